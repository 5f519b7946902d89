from capstone.registry import ModelRef, promote


class RecordingClient:
    def __init__(self):
        self.calls = []

    def set_registered_model_alias(self, name, alias, version):
        self.calls.append(("alias", name, alias, version))

    def transition_model_version_stage(self, name, version, stage, archive_existing_versions=False):
        self.calls.append(("stage", name, stage, version, archive_existing_versions))


def test_alias_wins_over_stage():
    ref = ModelRef.from_env({"MODEL_NAME": "m", "MODEL_ALIAS": "champion", "MODEL_STAGE": "Production"})
    assert ref.uri == "models:/m@champion"


def test_stage_is_used_when_no_alias_is_set():
    ref = ModelRef.from_env({"MODEL_NAME": "m", "MODEL_ALIAS": "", "MODEL_STAGE": "Production"})
    assert ref.uri == "models:/m/Production"


def test_defaults_when_nothing_is_set():
    assert ModelRef.from_env({}).uri == "models:/fault-classifier@champion"


def test_promote_sets_the_alias():
    client = RecordingClient()
    promote(client, ModelRef("m", alias="champion"), 3)
    assert client.calls == [("alias", "m", "champion", "3")]


def test_promote_moves_the_stage_without_an_alias():
    client = RecordingClient()
    promote(client, ModelRef("m", stage="Production"), "2")
    assert client.calls == [("stage", "m", "Production", "2", True)]
