def test_customer_upsert_creates_then_updates(api):
    body = {"first_name": "Anna", "email": "anna@example.com", "consents": {"email": True}}
    first = api.put("/api/v1/customers/c-1", body)
    second = api.put("/api/v1/customers/c-1", {"city": "Dublin"})
    assert first.status_code == 201, first.json()
    assert second.status_code == 200
    assert second.json()["first_name"] == "Anna"
    assert second.json()["city"] == "Dublin"
