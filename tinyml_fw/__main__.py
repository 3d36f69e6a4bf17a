from tinyml_fw.cli import main

main()
