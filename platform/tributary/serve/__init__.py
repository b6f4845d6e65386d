"""The Data API (`tributary serve`): the analyst snapshot's declared datasets over HTTP, read-only,
behind OAuth2 client-credential tokens, masking, rate limits and an audit log (docs/api.md)."""
