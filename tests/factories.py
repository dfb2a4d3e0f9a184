"""factory_boy factories shared by the suite. App-specific factories live beside them."""

import factory
from django.utils import timezone

from accounts.models import PublisherProfile, User
from accounts.services import api_key_create


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or "correct-horse-battery-staple")
        if create:
            obj.save(update_fields=["password"])


class PublisherFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PublisherProfile

    user = factory.SubFactory(UserFactory)
    display_name = factory.Sequence(lambda n: f"Publisher {n}")
    slug = factory.Sequence(lambda n: f"publisher-{n}")
    bio = "We publish small models."
    status = PublisherProfile.Status.APPROVED
    verified = True
    reviewed_at = factory.LazyFunction(timezone.now)


class ApiKeyFactory:
    @staticmethod
    def issue(*, user, name="test key", **limits):
        issued = api_key_create(user=user, name=name, **limits)
        return issued.api_key, issued.secret
