import pytest

from config.errors import ValidationFailed
from published_apps.models import Revision
from published_apps.starters import available_starters, create_app
from tests.factories import make_user


def test_there_are_at_least_two_plain_html_starters():
    starters = available_starters()
    assert {"landing", "todo"} <= set(starters)
    for starter in starters.values():
        assert (starter.path / "index.html").exists()


@pytest.mark.parametrize("template", ["landing", "todo"])
def test_create_app_makes_the_template_its_first_revision_draft_and_checkpoint(db, template):
    owner = make_user()
    app = create_app(owner=owner, name="My App", template=template)
    revision = app.draft_revision
    assert revision.source == Revision.Source.TEMPLATE and revision.parent is None
    assert {"index.html", "styles.css", "app.js"} <= set(revision.manifest)
    assert "starter.json" not in revision.manifest
    assert app.checkpoints.get().revision == revision
    assert app.checks["js-syntax"]["argv"] == ["node", "--check", "app.js"]
    assert app.slug == "my-app"


def test_slugs_are_unique_per_name(db):
    owner = make_user()
    slugs = [create_app(owner=owner, name="Same Name").slug for _ in range(3)]
    assert slugs == ["same-name", "same-name-2", "same-name-3"]


def test_create_app_refuses_unknown_template_and_blank_name(db):
    owner = make_user()
    with pytest.raises(ValidationFailed) as exc:
        create_app(owner=owner, name="x", template="nope")
    assert exc.value.field == "template"
    with pytest.raises(ValidationFailed) as exc:
        create_app(owner=owner, name="   ")
    assert exc.value.field == "name"
