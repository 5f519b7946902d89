print("never runs with the requirements above")
