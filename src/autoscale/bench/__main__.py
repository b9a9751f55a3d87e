from autoscale.bench.steps import main

main()
