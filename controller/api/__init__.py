"""The REST APIs: the framework (rest), /v1 (v1), its declarations (schemas, responses), the OpenAPI document, views, the trace route, metrics, the web view, the HTTP server."""
