# Helpers shared by the VM tests (not a test itself).
{ lib }:
{
  # Public keys matching test-keys/wg-<node>-TEST-ONLY.age.
  keys = import ./test-keys/wireguard-public-keys.nix;

  # An age.secrets entry as hearth render writes it.
  secret = file: {
    inherit file;
    owner = "root";
    group = "root";
    mode = "0400";
  };

  # A fixed address on a test VLAN interface (eth1 = first VLAN, ...).
  address = ifname: a: {
    networking.interfaces.${ifname}.ipv4.addresses = lib.mkForce [
      {
        address = a;
        prefixLength = 24;
      }
    ];
  };

  noMasquerade = {
    enable = false;
    sources = [ ];
    destinations = [ ];
  };
}
