"""The web app (``dispatcher serve``): the dashboard's pages, the REST API, provider and venue
webhooks, LED feeds, metrics and a health check; :func:`dispatcher.web.app.create_app`
builds it."""
