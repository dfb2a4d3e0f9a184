import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi = get_asgi_application()

from django.conf import settings  # noqa: E402

if settings.DEBUG or settings.DJANGO_ENV != "production":
    # Under uvicorn there is no runserver to serve /static/; whitenoise serves
    # collected files, this serves the source folders in development.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    application = ASGIStaticFilesHandler(django_asgi)
else:
    application = django_asgi

from config.body_limits import BodyLimit  # noqa: E402

application = BodyLimit(application)

# Chat templates render in their own processes (inference/chat_templates.py): start them now,
# not on the first chat request.
from inference.chat_templates import warm  # noqa: E402

warm()
