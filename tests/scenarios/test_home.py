def test_home_page_lists_the_scenarios(client, db):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    for title in ("Marketplace", "Party", "Kebab shop"):
        assert title in body
