from recodb.cli import main

main()
