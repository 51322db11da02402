# VM test of modules/kvm.nix: the bastion switches a TESmart KVM switch by
# host name with `hearth-kvm` (= `hearth kvm --map /etc/hearth/kvm.json`,
# the map from lib.kvm.switchMap), against `hearth kvm simulate` on a second
# VM at the switch's address; the override.yaml the same renderer makes for
# the PiKVM parses as YAML.
#
#   bastion 10.69.13.20 ---- tesmart 10.69.13.31:5000   vlan 1: the LAN
{ lib, ... }:
let
  inherit (import ./lib.nix { inherit lib; }) address;
  render = import ../../modules/lib;
  kvm = {
    enable = true;
    pikvm = {
      address = "10.69.13.30";
      webPort = 443;
    };
    switch = {
      kind = "tesmart";
      address = "10.69.13.31";
      port = 5000;
      ports = 8;
      timeout = 5;
      switchDelay = 1;
      statePoll = 10;
    };
    hosts = [
      {
        name = "monitoring01";
        port = 1;
      }
      {
        name = "jelly01";
        port = 3;
      }
    ];
  };
in
{
  name = "hearth-kvm";

  defaults.imports = [ ./common.nix ];

  nodes = {
    bastion =
      { pkgs, ... }:
      {
        imports = [ (address "eth1" "10.69.13.20") ];
        virtualisation.vlans = [ 1 ];
        hearth.kvm = kvm;
        environment.systemPackages = [ (pkgs.python3.withPackages (ps: [ ps.pyyaml ])) ];
        environment.etc."kvm-override.yaml".text = render.kvm.override kvm;
      };

    # The switch: hearth's TESmart simulator, run by the same hearth package
    # the flake's nixosModules.default gives hearth.kvm.package.
    tesmart =
      { config, ... }:
      {
        imports = [ (address "eth1" "10.69.13.31") ];
        virtualisation.vlans = [ 1 ];
        networking.firewall.allowedTCPPorts = [ 5000 ];
        systemd.services.tesmart-simulator = {
          wantedBy = [ "multi-user.target" ];
          serviceConfig.ExecStart = "${config.hearth.kvm.package}/bin/hearth kvm simulate --listen 0.0.0.0:5000 --ports 8 --active 1";
        };
      };
  };

  testScript = ''
    start_all()
    tesmart.wait_for_open_port(5000)
    bastion.wait_for_unit("multi-user.target")

    # The map is the renderer's.
    bastion.succeed("grep -q '\"name\":\"jelly01\",\"port\":3' /etc/hearth/kvm.json")

    # Status, switch by host name (confirmed by the switch), status again.
    assert bastion.succeed("hearth-kvm status").strip() == "monitoring01 (port 1)"
    assert bastion.succeed("hearth-kvm switch jelly01").strip() == "switched to jelly01 (port 3)"
    assert bastion.succeed("hearth-kvm status --json").strip() == '{"host":"jelly01","port":3}'
    assert "jelly01" in bastion.succeed("hearth-kvm list")

    # A host not cabled, and a switch that is gone: clear errors.
    out = bastion.fail("hearth-kvm switch ghost 2>&1")
    assert "is not cabled to the KVM switch" in out, out
    tesmart.systemctl("stop tesmart-simulator")
    out = bastion.fail("hearth-kvm status 2>&1")
    assert "unreachable" in out, out

    # The PiKVM's override.yaml parses as YAML, labelled with host names.
    bastion.succeed(
      "python3 -c 'import yaml; d = yaml.safe_load(open(\"/etc/kvm-override.yaml\")); "
      "t = d[\"kvmd\"][\"gpio\"][\"view\"][\"table\"]; "
      "assert t[2] == [\"#monitoring01\", \"port1_led\", \"port1_switch\"], t; "
      "assert d[\"kvmd\"][\"gpio\"][\"scheme\"][\"port3_switch\"][\"pin\"] == 2'"
    )
  '';
}
