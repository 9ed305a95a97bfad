from tests.campaigns import conftest as campaign_fixtures
from tests.inbound.conftest import folder  # noqa: F401 - fixture

smtp = campaign_fixtures.smtp
mailbox = campaign_fixtures.mailbox
make_campaign = campaign_fixtures.make_campaign
