from django.urls import path

from billing.views import account, checkout, downloads, earnings, pricing, topups, webhooks

app_name = "billing"

urlpatterns = [
    path("webhook/stripe/", webhooks.stripe_webhook, name="stripe_webhook"),
    path("listings/<int:listing_id>/pricing/", pricing.pricing, name="pricing"),
    path(
        "listings/<int:listing_id>/pricing/<int:option_id>/withdraw/",
        pricing.price_deactivate,
        name="price_deactivate",
    ),
    path("checkout/<int:option_id>/", checkout.checkout, name="checkout"),
    path("orders/", account.orders, name="orders"),
    path("orders/<uuid:number>/", account.order_detail, name="order_detail"),
    path("orders/<uuid:number>/pay/", checkout.order_pay, name="order_pay"),
    path("orders/<uuid:number>/pay/token/", checkout.order_pay_token, name="order_pay_token"),
    path("orders/<uuid:number>/complete/", checkout.order_complete, name="order_complete"),
    path("library/", account.library, name="library"),
    path("downloads/<str:token>/", downloads.download, name="download"),
    path("quota/", account.quota, name="quota"),
    path("credits/", account.credits, name="credits"),
    path("credits/topup/", topups.topup_start, name="topup_start"),
    path("credits/topups/<uuid:number>/", topups.topup_detail, name="topup_detail"),
    path("credits/topups/<uuid:number>/pay/", topups.topup_pay, name="topup_pay"),
    path("credits/topups/<uuid:number>/pay/token/", topups.topup_pay_token, name="topup_pay_token"),
    path("credits/topups/<uuid:number>/complete/", topups.topup_complete, name="topup_complete"),
    path("earnings/", earnings.earnings, name="earnings"),
    path("earnings/payout.csv", earnings.payout_csv, name="payout_csv"),
]
