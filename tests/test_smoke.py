from controller.client import Client


def test_status_and_relay_over_api(app, api: Client):
    status = api.request("GET", "/status")
    assert status["site"]["id"] == "test-site"
    assert api.request("POST", "/relays/tv", {"state": "on"}) == {"name": "tv", "on": True, "changed": True}
    assert {r["name"]: r["on"] for r in api.request("GET", "/relays")["relays"]}["tv"] is True
