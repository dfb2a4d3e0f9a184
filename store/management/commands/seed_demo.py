from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from billing.demo import DEMO_MODEL_ID, demo_grants_ensure
from store.demo.catalog import demo_catalog_ensure
from store.gpts.demo import demo_gpts_ensure


class Command(BaseCommand):
    help = "Creates the embedded demo: accounts, then the demo catalog. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument(
            "--toy-train-seconds",
            type=float,
            default=60.0,
            help="How long the toy GPT-2 trains on its first build (default 60).",
        )

    def handle(self, *args, toy_train_seconds, **options):
        call_command("seed_demo_accounts", stdout=self.stdout)
        try:
            listings = demo_catalog_ensure(
                toy_train_seconds=toy_train_seconds, log=self.stdout.write
            )
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        for listing in listings:
            self.stdout.write(f"  {listing.status:<9} {listing.model_id}")
        # Billing: the demo customer holds SmolLM2 tokens (skipped until that listing exists).
        if demo_grants_ensure() is not None:
            self.stdout.write("Demo customer holds a SmolLM2 token grant.")
        # GPTs on SmolLM2 (it is sold per token now): the GPT store has something to show.
        for gpt in demo_gpts_ensure(base_model_id=DEMO_MODEL_ID):
            self.stdout.write(f"  GPT       {gpt.model_id}")
