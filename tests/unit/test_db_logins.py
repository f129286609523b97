"""The logins the entry points connect as (runtime.settings.DbLogin) are exactly the owner and
the service roles deploy/grants.yaml grants to (issue 11, item 4)."""

from deploy.db_roles import load_grants
from runtime.settings import DbLogin


def test_every_service_login_is_a_role_of_grants_yaml() -> None:
    logins = {role.login for role in load_grants().roles.values()}
    assert {login.value for login in DbLogin} - {DbLogin.OWNER.value} == logins
