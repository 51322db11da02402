# VM test of modules/logs.nix: the gateway ships its journal to Loki with
# Grafana Alloy; a line from `logger` and a VPN packet the allowlist drops
# both arrive in Loki with the right labels, queried over Loki's HTTP API.
#
#   admin 192.168.1.2 ---- gateway 192.168.1.1:51820   vlan 1: "the internet"
#   gateway 10.69.13.1 --- loki 10.69.13.11:3100       vlan 2: the LAN
#   VPN 10.69.222.0/24: gateway .1, admin .10 (may reach nothing but DNS)
#
# The drop: admin tries Loki's push port through the tunnel. No service
# grants it, so the gateway's allowlist drops and logs it (prefix
# "hearth-drop "), and the Alloy pipeline labels that kernel line
# hearth_drop="1", src="10.69.222.10", dst="10.69.13.11". A user process
# logging the same text does not get the label (only kernel lines can).
{ lib, ... }:
let
  inherit (import ./lib.nix { inherit lib; }) keys secret address noMasquerade;

  # hearth.logs as `hearth render` writes it for a shipping host.
  logsFor = host: {
    enable = true;
    inherit host;
    ship = true;
    agent = "alloy";
    push = {
      url = "http://10.69.13.11:3100/loki/api/v1/push";
      username = null;
      passwordSecret = null;
      tenant = null;
    };
    labels = {
      site = "vm";
    };
    journalMaxAge = "12h";
    loki = null;
  };
  tools =
    { pkgs, ... }:
    {
      environment.systemPackages = [
        pkgs.curl
        pkgs.jq
        pkgs.netcat
      ];
    };
in
{
  name = "hearth-logs";

  defaults.imports = [
    ./common.nix
    tools
  ];

  nodes = {
    loki = {
      imports = [ (address "eth1" "10.69.13.11") ];
      virtualisation.vlans = [ 2 ];
      virtualisation.memorySize = 1536;
      hearth.logs = logsFor "loki" // {
        loki = {
          enable = true;
          port = 3100;
          grpcPort = 9096;
          retention = "744h";
          dataDir = "/var/lib/loki";
          # The shipping hosts: the gateway, and Loki's own host.
          allowFrom = [
            "10.69.13.1"
            "10.69.13.11"
          ];
        };
      };
    };

    gateway = {
      imports = [
        (address "eth1" "192.168.1.1")
        (address "eth2" "10.69.13.1")
      ];
      virtualisation.vlans = [
        1
        2
      ];
      age.secrets.hearth-wireguard-key = secret ./test-keys/wg-gateway-TEST-ONLY.age;
      hearth.wireguard = {
        enable = true;
        interface = "hearth0";
        role = "gateway";
        addresses = [ "10.69.222.1/32" ];
        listenPort = 51820;
        mtu = 1420;
        privateKeySecret = "hearth-wireguard-key";
        forwarding = true;
        masquerade = {
          enable = true;
          sources = [ "10.69.222.0/24" ];
          destinations = [ "10.69.13.0/24" ];
        };
        peers = [
          {
            name = "admin";
            publicKey = keys.admin;
            allowedIPs = [ "10.69.222.10/32" ];
            endpoint = null;
            persistentKeepalive = null;
            presharedKeySecret = null;
          }
        ];
      };
      hearth.allowlist = {
        enable = true;
        interface = "hearth0";
        sources.all = [ "10.69.222.10" ];
        # DNS only: Loki's port is not granted to the VPN.
        rules = [
          {
            name = "dns";
            from = [ "all" ];
            to = [ "10.69.13.11" ];
            proto = [ "udp" ];
            ports = [ "53" ];
          }
        ];
        log = {
          enable = true;
          rate = "10/minute";
        };
        ssh = {
          enable = false;
          port = 22;
          sources = [ ];
          rate = "10/minute";
          burst = 5;
        };
      };
      hearth.logs = logsFor "gateway" // {
        labels = {
          site = "vm";
          role = "gateway";
        };
      };
    };

    admin = {
      imports = [ (address "eth1" "192.168.1.2") ];
      virtualisation.vlans = [ 1 ];
      age.secrets.hearth-wireguard-key = secret ./test-keys/wg-admin-TEST-ONLY.age;
      hearth.wireguard = {
        enable = true;
        interface = "hearth0";
        role = "client";
        addresses = [ "10.69.222.10/32" ];
        listenPort = null;
        mtu = 1420;
        privateKeySecret = "hearth-wireguard-key";
        forwarding = false;
        masquerade = noMasquerade;
        peers = [
          {
            name = "gateway";
            publicKey = keys.gateway;
            allowedIPs = [
              "10.69.222.0/24"
              "10.69.13.0/24"
            ];
            endpoint = "192.168.1.1:51820";
            persistentKeepalive = 25;
            presharedKeySecret = null;
          }
        ];
      };
    };
  };

  testScript = ''
    import json

    def streams(query):
        """Loki's streams for a LogQL query over the last hour, via its HTTP API."""
        out = loki.succeed(
            "curl -sfG http://127.0.0.1:3100/loki/api/v1/query_range"
            + " --data-urlencode 'query=" + query + "' --data-urlencode 'since=1h' --data-urlencode 'limit=100'"
        )
        return json.loads(out)["data"]["result"]

    def wait_for_stream(query, what):
        """Retries the query until Loki has a line for it; returns the streams."""
        found = []

        def check(_):
            found[:] = streams(query)
            return len(found) > 0

        with subtest(what):
            retry(check, timeout=180)
        return found

    start_all()

    # Loki runs with the rendered configuration and answers on its port.
    loki.wait_for_unit("loki.service")
    loki.wait_for_open_port(3100)
    loki.wait_until_succeeds("curl -sf http://127.0.0.1:3100/ready | grep -q ready", timeout=120)
    loki.succeed("jq -e '.compactor.retention_enabled == true and .limits_config.retention_period == \"744h\"' $(systemctl cat loki | grep -o -- '--config.file=[^ ]*' | cut -d= -f2)")

    # Alloy runs in the systemd-journal group with hearth's config file.
    gateway.wait_for_unit("alloy.service")
    gateway.succeed("grep -q 'loki.source.journal \"hearth\"' /etc/alloy/config.alloy")
    gateway.succeed("systemctl show alloy -p SupplementaryGroups | grep -q systemd-journal")

    # The gateway may push (it is in allowFrom); the client's tunnel is up.
    gateway.wait_until_succeeds("nc -z -w 3 10.69.13.11 3100", timeout=60)
    admin.wait_for_unit("wireguard-hearth0.service")

    # 1. A line from logger on the gateway, with host, unit and priority.
    gateway.succeed("logger -p user.warning 'hearth-vm-test: hello from the gateway'")
    s = wait_for_stream('{host="gateway"} |= "hearth-vm-test: hello from the gateway"', "logger line reaches Loki")
    labels = s[0]["stream"]
    assert labels["host"] == "gateway", labels
    assert labels["priority"] == "warning", labels
    assert labels.get("unit", "") != "", labels
    assert labels["site"] == "vm" and labels["role"] == "gateway", labels
    assert "transport" not in labels, f"the temporary transport label was not dropped: {labels}"
    assert "hearth_drop" not in labels, labels

    # A user process cannot forge a drop: same text, no label.
    gateway.succeed("logger 'hearth-drop IN=hearth0 SRC=10.66.66.66 DST=10.69.13.11 forged'")
    wait_for_stream('{host="gateway"} |= "SRC=10.66.66.66"', "forged drop line reaches Loki")
    assert streams('{hearth_drop="1", src="10.66.66.66"}') == [], "a user-space line was labelled as a drop"

    # 2. A dropped packet: the client tries Loki's port through the tunnel;
    # the allowlist drops it (no service grants it) and logs it.
    admin.wait_until_succeeds("ping -c 1 -W 2 10.69.222.1", timeout=90)
    admin.fail("nc -z -w 3 10.69.13.11 3100")
    gateway.wait_until_succeeds("journalctl -k -o cat | grep 'hearth-drop ' | grep -q 'SRC=10.69.222.10 DST=10.69.13.11'", timeout=60)
    s = wait_for_stream('{hearth_drop="1", src="10.69.222.10", dst="10.69.13.11"}', "dropped packet reaches Loki labelled")
    labels = s[0]["stream"]
    assert labels["host"] == "gateway", labels
    assert "DPT=3100" in s[0]["values"][0][1], s[0]["values"][0]

    # Loki's own host ships too (to itself).
    loki.succeed("logger 'hearth-vm-test: hello from loki'")
    s = wait_for_stream('{host="loki"} |= "hearth-vm-test: hello from loki"', "Loki's own journal reaches Loki")
    assert s[0]["stream"]["site"] == "vm" and "role" not in s[0]["stream"], s[0]["stream"]
  '';
}
