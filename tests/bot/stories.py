"""The bot's domain and the events of every rule and test story, for tests that replay them."""

from __future__ import annotations

from pathlib import Path

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.importers.importer import TrainingDataImporter

BOT = Path(__file__).resolve().parents[2] / "bot"


def domain_and_stories() -> tuple[Domain, list[list[Event]]]:
    """The domain, and the events of every rule and test story the bot is trained and tested on."""
    importer = TrainingDataImporter.load_from_dict(
        domain_path=str(BOT / "domain"),
        training_data_paths=[str(BOT / "data"), str(BOT / "tests")],
    )
    domain = importer.get_domain()
    generator = TrainingDataGenerator(
        importer.get_stories(), domain, remove_duplicates=False, augmentation_factor=0
    )
    return domain, [list(tracker.events) for tracker in generator.generate()]
