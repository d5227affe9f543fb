"""DRF's `api_view`, answering HEAD wherever it answers GET.

HTTP requires HEAD on every resource that answers GET (RFC 9110 §9.3.2), but DRF's
decorator allows only the methods it is named, so `curl -I`, link checkers and
monitoring probes got 405. A HEAD request runs the view as GET would; the server
(daphne, Django's test client) sends the headers, Content-Length included, and drops
the body. A view that also writes must branch on the writing method
(`if request.method == "POST"`), never on `== "GET"`, so that HEAD only ever reads.
"""

from rest_framework.decorators import api_view as drf_api_view


def api_view(methods: list[str]):
    methods = [method.upper() for method in methods]
    if "GET" in methods and "HEAD" not in methods:
        methods.append("HEAD")
    return drf_api_view(methods)
