from iomqa.cli import main

main()
