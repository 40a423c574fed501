"""The mock finance system ("Økonomisystem"): a stand-in the robots drive through its web pages."""
