-- One fixed request (headers from wrk -H); only adds the report line.
dofile(os.getenv("BENCH_D") .. "/report.lua")
