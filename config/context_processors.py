from django.conf import settings


def store(request):
    return {
        "STORE_NAME": "GPT Store",
        "SITE_URL": settings.SITE_URL,
        "STORE_CURRENCY": settings.STORE_CURRENCY,
    }
