"""The official SDK, unchanged but for base_url, against the real server."""

from __future__ import annotations

import pytest

afini_twin = pytest.importorskip("afini_twin")

from conftest import cli  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def client(server):
    key = cli(
        "key",
        "create",
        "--owner",
        server.owner,
        "--name",
        "sdk",
        "--scope",
        "twin:write",
        "--quiet",
        config_path=server.config_path,
    ).stdout.strip()
    with afini_twin.AfiniTwinSyncClient(api_key=key, base_url=server.base) as c:
        c.key = key
        yield c


def test_sdk_reads_every_endpoint(client):
    health = client.health()
    assert health["ok"] is True and health["apiKeyId"] == client.key[9:17]
    me = client.me()
    assert me["quota"]["used"] == 1 and me["twins"]["ready"] == 1
    snaps = client.historic()["snapshots"]
    assert [s["id"] for s in snaps] == ["snp_lucia_2026_11"]
    one = client.snapshot("snp_lucia_2026_11")
    assert one["presets"] == ["estandar", "compacto"]
    artifact = client.preset("estandar")
    assert artifact["lang"] == "es" and artifact["snapshotId"] == "snp_lucia_2026_11"
    for fmt in ("md", "txt", "yaml"):
        text = client.preset(
            "compacto",
            format=fmt,
            lang="en",
            variant="claude",
            include_narratives=True,
            purchase_id="snp_lucia_2026_11",
        )
        assert isinstance(text, str) and "Lucía" in text
    # health is free: me, historic, snapshot, four presets, and this me.
    assert client.me()["quota"]["used"] == 8


def test_sdk_writes_life_facts_and_annotations(client):
    fact = afini_twin.LifeFactInput(
        category="professional",
        value="Leads a data team",
        consent=True,
        external_ref="crm-1",
    )
    first = client.life_facts_create([fact])
    assert first["accepted"] == 1 and first["duplicates"] == 0
    assert first["inboxUrl"].endswith("/admin/#review")
    again = client.life_facts_create([fact])
    assert again == {**first, "accepted": 0, "duplicates": 1}
    note = afini_twin.AnnotationInput(
        tag="tone", text="Prefers short answers", consent=True
    )
    assert client.annotations_create([note])["accepted"] == 1


def test_sdk_sees_contract_errors(client):
    with pytest.raises(afini_twin.AfiniTwinApiError) as err:
        client.snapshot("snp_nobody")
    assert err.value.status == 404
    assert err.value.body["code"] == "SNAPSHOT_NOT_FOUND"
