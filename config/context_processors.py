from django.conf import settings


def store(request):
    return {"STORE_NAME": "GPT Store", "SITE_URL": settings.SITE_URL}
