"""``vnetsec``, the operator's command over the REST API (``/v1``): its HTTP
client, the words it reads, the tables it prints. The lab shell's commands
call the same code, so the two cannot drift. Nothing here imports Mininet,
Ryu or os-ken: it runs wherever Python and the API are."""
