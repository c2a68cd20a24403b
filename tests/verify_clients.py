"""Run one site-side verification library against crowdgate, as its users configure it.

``python tests/verify_clients.py LIBRARY BASE SITEKEY SECRET TOKEN`` prints ``{"valid": ...,
"error": ...}``. Each library runs in a process of its own: Django's settings are global and
django-hCaptcha reads them when it is imported. ``BASE`` is crowdgate's base URL; for
django-recaptcha it is the https:// TLS front (the library only builds https URLs).
"""

from __future__ import annotations

import json
import sys
from urllib.parse import urlsplit


def _django(**settings: object) -> None:
    import django
    from django.conf import settings as conf

    conf.configure(
        SECRET_KEY="verify-clients",
        INSTALLED_APPS=["django_recaptcha", "hcaptcha", "hcaptcha_field"],
        SILENCED_SYSTEM_CHECKS=["django_recaptcha.recaptcha_test_key_error"],
        USE_I18N=False,
        **settings,
    )
    django.setup()


def flask_wtf(base: str, sitekey: str, secret: str, token: str) -> bool:
    """Flask-WTF's RecaptchaField: RECAPTCHA_VERIFY_SERVER."""
    from flask import Flask
    from flask_wtf import FlaskForm
    from flask_wtf.recaptcha import RecaptchaField

    class Form(FlaskForm):
        recaptcha = RecaptchaField()

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="x",
        WTF_CSRF_ENABLED=False,
        RECAPTCHA_PUBLIC_KEY=sitekey,
        RECAPTCHA_PRIVATE_KEY=secret,
        RECAPTCHA_VERIFY_SERVER=f"{base}/recaptcha/api/siteverify",
    )
    with app.test_request_context("/", method="POST", data={"g-recaptcha-response": token}):
        form = Form()
        return bool(form.validate())


def django_recaptcha(base: str, sitekey: str, secret: str, token: str) -> bool:
    """django-recaptcha's ReCaptchaField: RECAPTCHA_DOMAIN (https only)."""
    _django(
        RECAPTCHA_PUBLIC_KEY=sitekey,
        RECAPTCHA_PRIVATE_KEY=secret,
        RECAPTCHA_DOMAIN=urlsplit(base).netloc,
    )
    from django import forms
    from django_recaptcha.fields import ReCaptchaField

    class Form(forms.Form):
        captcha = ReCaptchaField()

    return Form({"g-recaptcha-response": token}).is_valid()


def django_hcaptcha(base: str, sitekey: str, secret: str, token: str) -> bool:
    """django-hCaptcha's hCaptchaField: HCAPTCHA_VERIFY_URL."""
    _django(
        HCAPTCHA_SITEKEY=sitekey, HCAPTCHA_SECRET=secret, HCAPTCHA_VERIFY_URL=f"{base}/siteverify"
    )
    from django import forms
    from hcaptcha.fields import hCaptchaField

    class Form(forms.Form):
        hcaptcha = hCaptchaField()

    return Form({"h-captcha-response": token}).is_valid()


def django_hcaptcha_field(base: str, sitekey: str, secret: str, token: str) -> bool:
    """django-hcaptcha-field's hCaptchaField: HCAPTCHA_VERIFY_URL (it also sends the sitekey)."""
    _django(
        HCAPTCHA_SITEKEY=sitekey, HCAPTCHA_SECRET=secret, HCAPTCHA_VERIFY_URL=f"{base}/siteverify"
    )
    from django import forms
    from hcaptcha_field import hCaptchaField

    class Form(forms.Form):
        hcaptcha = hCaptchaField()

    return Form({"h-captcha-response": token}).is_valid()


LIBRARIES = {
    "flask-wtf": flask_wtf,
    "django-recaptcha": django_recaptcha,
    "django-hcaptcha": django_hcaptcha,
    "django-hcaptcha-field": django_hcaptcha_field,
}

if __name__ == "__main__":
    library, base, sitekey, secret, token = sys.argv[1:6]
    try:
        print(json.dumps({"valid": LIBRARIES[library](base, sitekey, secret, token)}))
    except Exception as exc:  # reported to the test, which shows it
        print(json.dumps({"valid": None, "error": f"{type(exc).__name__}: {exc}"}))
