"""Demo GPTs for the embedded store (`make run`): three GPTs on SmolLM2, built, published
and approved through the GPT services (the demo publisher builds, the demo admin curates),
so the GPT store is alive on a fresh machine. The help desk answers from a help file the
project wrote (store/demo/gpts). Idempotent: a GPT that exists is left as it is."""

from pathlib import Path

from django.conf import settings

from accounts.models import User
from store.gpts import services
from store.gpts.models import Gpt, GptCategory
from store.gpts.selectors import base_models

KNOWLEDGE = Path(__file__).resolve().parent.parent / "demo" / "gpts"
BUILDER = "publisher@example.com"
CURATOR = "admin@example.com"
DEMO_HANDLE = "gptstore-labs"
DEMO_GPTS = (
    {
        "slug": "store-help-desk",
        "name": "Store help desk",
        "description": "Answers questions about buying, renting, credits, GPTs and the API "
        "from the store's own help pages.",
        "category": "productivity",
        "instructions": "You are the GPT Store's help desk. Answer the customer's question in "
        "two or three short sentences, using the excerpts from the store's help pages. If the "
        "excerpts do not say, tell the customer to ask the store's staff.",
        "starters": [
            "How do credits work?",
            "What is the difference between buying and renting?",
            "How do I use an API key?",
            "What is a GPT?",
        ],
        "temperature": 0.2,
        "max_tokens": 120,
        "markup_per_mtok": 0,
        "knowledge": ["store-help.md"],
        "featured": True,
    },
    {
        "slug": "story-spark",
        "name": "Story spark",
        "description": "Short bedtime stories from a few words: an animal, a place, a wish.",
        "category": "writing",
        "instructions": "You write short, gentle bedtime stories for children, five to eight "
        "sentences long, with a happy ending. Use simple words.",
        "starters": [
            "A story about a brave little fox.",
            "A story set on a boat at night.",
            "A story about a robot who learns to sing.",
        ],
        "temperature": 0.8,
        "max_tokens": 200,
        "markup_per_mtok": 5,
        "knowledge": [],
        "featured": False,
    },
    {
        "slug": "python-buddy",
        "name": "Python buddy",
        "description": "Small, friendly answers to Python questions, with a short example.",
        "category": "programming",
        "instructions": "You help beginners with Python. Answer briefly and show one short "
        "code example when it helps. Use the tips from your knowledge when they apply.",
        "starters": ["How do I count words in a list?", "How should I open a file?"],
        "temperature": 0.3,
        "max_tokens": 160,
        "markup_per_mtok": 3,
        "knowledge": ["python-tips.md"],
        "featured": False,
    },
)


def demo_gpts_ensure(*, base_model_id: str) -> list[Gpt]:
    """Makes the demo GPTs that are missing on ``base_model_id``; [] while it or the demo
    accounts do not exist yet."""
    if settings.PRODUCTION:
        raise RuntimeError("Demo GPTs are never made with production settings.")
    builder = User.objects.filter(email=BUILDER).first()
    curator = User.objects.filter(email=CURATOR).first()
    base = next((m for m in base_models() if m.model_id == base_model_id), None)
    if builder is None or curator is None or base is None:
        return []
    profile = services.builder_profile_for(builder)
    if profile.handle != DEMO_HANDLE and not profile.gpts.exists():
        # The demo publisher builds under its publisher name: gpt:gptstore-labs/...
        profile = services.builder_profile_update(
            user=builder, display_name="GPT Store Labs", handle=DEMO_HANDLE
        )
    if not profile.verified:
        services.builder_verify(actor=curator, profile=profile)
    made = []
    for spec in DEMO_GPTS:
        if Gpt.objects.filter(profile=profile, slug=spec["slug"]).exists():
            continue
        fields = {k: v for k, v in spec.items() if k not in ("slug", "knowledge", "featured")}
        fields["category"] = GptCategory.objects.get(slug=spec["category"])
        gpt = services.gpt_create(builder=builder, base_listing=base, **fields)
        for name in spec["knowledge"]:
            services.knowledge_add(
                gpt=gpt, actor=builder, name=name, data=(KNOWLEDGE / name).read_bytes()
            )
        gpt = services.gpt_publish(gpt=gpt, actor=builder, visibility=Gpt.Visibility.PUBLIC)
        gpt = services.gpt_approve(gpt=gpt, actor=curator)
        if spec["featured"]:
            gpt = services.gpt_feature(gpt=gpt, actor=curator, featured=True)
        made.append(gpt)
    return made
