"""Docker's healthcheck of a controller container: GET /healthz on its REST API,
found from the same environment the controller reads (VNETSEC_API_HOST/PORT;
HTTPS when VNETSEC_API_CERT is set). Exit 0 on 200, else 1. Run by
``python3 -S`` (no site packages: a few milliseconds). Over HTTPS it does not
check the certificate: it asks loopback for a liveness answer and sends no token."""
import os
import ssl
import sys
import urllib.request

host = os.environ.get('VNETSEC_API_HOST') or '127.0.0.1'
host = {'0.0.0.0': '127.0.0.1', '::': '::1'}.get(host, host)
port = os.environ.get('VNETSEC_API_PORT') or '8080'
https = bool(os.environ.get('VNETSEC_API_CERT'))
url = '%s://%s:%s/healthz' % ('https' if https else 'http',
                              '[%s]' % host if ':' in host else host, port)
context = ssl._create_unverified_context() if https else None
try:
    with urllib.request.urlopen(url, timeout=3, context=context) as resp:
        sys.exit(0 if resp.status == 200 else 1)
except OSError as e:
    print('%s: %s' % (url, e))
    sys.exit(1)
