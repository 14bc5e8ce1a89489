"""Use cases. Each service takes an ``AppContext`` (``services.context``) and
owns its transaction through ``ctx.session()``; edges (API, CLI, web, jobs)
call services and render the results.
"""
