"""/v1 views: thin wrappers that authenticate, call a selector or service, and shape JSON."""

from functools import wraps

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from inference.api.auth import authenticate
from inference.api.errors import OpenAIError
from inference.selectors import model_card_for_key, models_for_key


def openai_endpoint(view):
    @csrf_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            request.api_key = authenticate(request)
            return view(request, *args, **kwargs)
        except OpenAIError as exc:
            return exc.response()

    return wrapper


@openai_endpoint
def models_list(request):
    if request.method != "GET":
        raise OpenAIError("Use GET for this endpoint.", status=405, code="method_not_allowed")
    return JsonResponse({"object": "list", "data": models_for_key(api_key=request.api_key)})


@openai_endpoint
def model_detail(request, model_id: str):
    card = model_card_for_key(api_key=request.api_key, model_id=model_id)
    if card is None:
        raise OpenAIError(
            f"The model '{model_id}' does not exist or you do not have access to it.",
            status=404,
            param="model",
            code="model_not_found",
        )
    return JsonResponse(card)
