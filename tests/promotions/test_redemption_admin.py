"""Rolling back redemptions from the admin."""

import pytest
from django.contrib.auth.hashers import make_password

from customers.models import Customer
from promotions.models import Redemption
from tests.factories import CustomerFactory
from tests.promotions.factories import coupon

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/promotions/redemption/"


@pytest.fixture
def redeemed(api) -> tuple[int, int]:
    CustomerFactory(source_id="c-1")
    voucher = coupon("SAVE10")
    body = {
        "customer": {"source_id": "c-1"},
        "order": {
            "source_id": "o-1",
            "currency": "USD",
            "items": [{"product_id": "p-1", "quantity": 1, "unit_price": 5000}],
        },
        "codes": ["SAVE10"],
    }
    ok = api.post("/api/v1/redemptions", body).json()["id"]
    failed = api.post("/api/v1/redemptions", {**body, "codes": ["NOPE"]}).json()["error"]
    return ok, failed["details"]["id"], voucher


def test_the_admin_rolls_back_a_redemption_and_says_who(admin_client, redeemed):
    ok, failed, voucher = redeemed
    response = admin_client.post(
        CHANGELIST,
        {"action": "roll_back_selected", "_selected_action": [ok, failed]},
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "1 redemption rolled back." in page
    assert "Only a succeeded redemption can be rolled back." in page
    redemption = Redemption.objects.get(pk=ok)
    assert redemption.status == "rolled_back"
    assert redemption.rolled_back_by == "admin:admin"
    voucher.refresh_from_db()
    assert voucher.redemptions_count == 0
    assert Customer.objects.count() == 1


def test_a_staff_user_without_change_permission_has_no_rollback_action(client, redeemed):
    from django.contrib.auth.models import Permission, User

    user = User.objects.create(username="viewer", is_staff=True, password=make_password(None))
    user.user_permissions.add(Permission.objects.get(codename="view_redemption"))
    client.force_login(user)
    page = client.get(CHANGELIST).content.decode()
    assert "roll_back_selected" not in page
