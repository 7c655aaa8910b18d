"""The names of each destination's credential files: one file each in the credentials directory."""

from appliance.core.destinations import Destination

X_KEYS = ("x_consumer_key", "x_consumer_secret", "x_access_token", "x_access_token_secret")
BLUESKY_APP_PASSWORD = "bluesky_app_password"
MASTODON_ACCESS_TOKEN = "mastodon_access_token"
DESTINATION_KEYS: dict[Destination, tuple[str, ...]] = {
    Destination.X: X_KEYS,
    Destination.BLUESKY: (BLUESKY_APP_PASSWORD,),
    Destination.MASTODON: (MASTODON_ACCESS_TOKEN,),
}
