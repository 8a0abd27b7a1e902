"""`pipetrace lab`: a local web app to set up a network, press Train and watch the trace build itself, live.

app.py     routes, access (token, Host, Origin), settings validated with the command line's own checks
runner.py  the Dask client: submits runs, stops them, keeps and forwards their events
worker.py  what runs on a Dask worker: keeps TensorFlow and the data warm, calls pipeline.run with an
           observer that publishes events through Dask's own worker events
events.py  the events of one run, numbered, for replay to late clients; batch losses coalesced
serve.py   the command: cluster, server, address with its token, Ctrl-C

Imported only by `pipetrace lab` (Starlette, uvicorn and Dask are the `[lab]` extra).
"""
