# VM test of modules/wireguard.nix: a client dials the hub, the hub forwards
# to the gateway, the gateway (which dials the hub and keeps the tunnel up)
# masquerades into the LAN. Keys come from agenix (test-keys/, TEST-ONLY).
#
#   client 192.168.1.3 --\                         vlan 1: "the internet"
#   gateway 192.168.1.2 --+-- hub 192.168.1.1:51821
#   gateway 10.69.13.1 ---- lan 10.69.13.11          vlan 2: the LAN
#   VPN 10.69.222.0/24: hub .1, gateway .2, client .10
{ lib, ... }:
let
  inherit (import ./lib.nix { inherit lib; }) keys secret address noMasquerade;
in
{
  name = "hearth-wireguard";

  defaults.imports = [ ./common.nix ];

  nodes = {
    hub = {
      imports = [ (address "eth1" "192.168.1.1") ];
      virtualisation.vlans = [ 1 ];
      age.secrets = {
        hearth-wireguard-key = secret ./test-keys/wg-hub-TEST-ONLY.age;
        hearth-wireguard-psk-gateway = secret ./test-keys/psk-hub-gateway-TEST-ONLY.age;
      };
      hearth.wireguard = {
        enable = true;
        interface = "hearth0";
        role = "hub";
        addresses = [ "10.69.222.1/32" ];
        listenPort = 51821;
        mtu = 1420;
        privateKeySecret = "hearth-wireguard-key";
        forwarding = true;
        masquerade = noMasquerade;
        peers = [
          {
            name = "gateway";
            publicKey = keys.gateway;
            allowedIPs = [
              "10.69.222.2/32"
              "10.69.13.0/24"
            ];
            endpoint = null;
            persistentKeepalive = null;
            presharedKeySecret = "hearth-wireguard-psk-gateway";
          }
          {
            name = "client";
            publicKey = keys.client;
            allowedIPs = [ "10.69.222.10/32" ];
            endpoint = null;
            persistentKeepalive = null;
            presharedKeySecret = null;
          }
        ];
      };
    };

    gateway = {
      imports = [
        (address "eth1" "192.168.1.2")
        (address "eth2" "10.69.13.1")
      ];
      virtualisation.vlans = [
        1
        2
      ];
      age.secrets = {
        hearth-wireguard-key = secret ./test-keys/wg-gateway-TEST-ONLY.age;
        hearth-wireguard-psk-hub = secret ./test-keys/psk-hub-gateway-TEST-ONLY.age;
      };
      hearth.wireguard = {
        enable = true;
        interface = "hearth0";
        role = "gateway";
        addresses = [ "10.69.222.2/32" ];
        listenPort = null;
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
            name = "hub";
            publicKey = keys.hub;
            allowedIPs = [ "10.69.222.0/24" ];
            endpoint = "192.168.1.1:51821";
            persistentKeepalive = 25;
            presharedKeySecret = "hearth-wireguard-psk-hub";
          }
        ];
      };
    };

    client =
      { pkgs, ... }:
      {
        imports = [ (address "eth1" "192.168.1.3") ];
        virtualisation.vlans = [ 1 ];
        environment.systemPackages = [ pkgs.curl ];
        age.secrets.hearth-wireguard-key = secret ./test-keys/wg-client-TEST-ONLY.age;
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
              name = "hub";
              publicKey = keys.hub;
              allowedIPs = [
                "10.69.222.0/24"
                "10.69.13.0/24"
              ];
              endpoint = "192.168.1.1:51821";
              persistentKeepalive = 25;
              presharedKeySecret = null;
            }
          ];
        };
      };

    lan =
      { pkgs, ... }:
      {
        imports = [ (address "eth1" "10.69.13.11") ];
        virtualisation.vlans = [ 2 ];
        networking.firewall.allowedTCPPorts = [
          80
          8080
        ];
        # Two tiny web servers; their request logs show the source address.
        systemd.services = lib.genAttrs [ "web80" "web8080" ] (name: {
          wantedBy = [ "multi-user.target" ];
          serviceConfig.ExecStart = "${pkgs.python3}/bin/python3 -m http.server --directory /etc ${lib.removePrefix "web" name}";
        });
      };
  };

  testScript = ''
    start_all()

    # Every tunnel endpoint brings hearth0 up with the key agenix decrypted
    # (root-only, never in the store).
    for m in (hub, gateway, client):
        m.wait_for_unit("wireguard-hearth0.service")
        m.succeed("test \"$(stat -c '%a %U' /run/agenix/hearth-wireguard-key)\" = '400 root'")
        m.succeed("test \"$(wg show hearth0 private-key)\" = \"$(cat /run/agenix/hearth-wireguard-key)\"")

    # The interfaces as rendered: the hub listens on its port, which its
    # firewall opened; the others have a random port.
    hub.succeed("wg show hearth0 listen-port | grep -qx 51821")
    hub.succeed("ip -4 addr show hearth0 | grep -q 10.69.222.1/32")
    hub.succeed("ip link show hearth0 | grep -q 'mtu 1420'")
    hub.succeed("iptables -S nixos-fw | grep -q 'udp.*51821' || nft list ruleset | grep -q 'udp dport 51821'")

    # The gateway dials the hub and keeps the tunnel up (keepalive), with
    # the pair's preshared key on both ends.
    hub.wait_until_succeeds(
        "wg show hearth0 latest-handshakes | grep -F '${keys.gateway}' | awk '{ exit !($2 > 0) }'",
        timeout=60,
    )
    hub.succeed("wg show hearth0 preshared-keys | grep -F '${keys.gateway}' | grep -vq '(none)'")
    gateway.succeed("wg show hearth0 preshared-keys | grep -F '${keys.hub}' | grep -vq '(none)'")
    hub.succeed("wg show hearth0 preshared-keys | grep -F '${keys.client}' | grep -q '(none)'")

    # Allowed IPs became routes: the hub routes the LAN to the gateway peer.
    hub.succeed("ip route get 10.69.13.11 | grep -q 'dev hearth0'")
    client.succeed("ip route get 10.69.13.11 | grep -q 'dev hearth0'")

    # Hub and gateway forward, the client does not.
    hub.succeed("test $(sysctl -n net.ipv4.conf.all.forwarding) = 1")
    gateway.succeed("test $(sysctl -n net.ipv4.conf.all.forwarding) = 1")
    client.succeed("test $(sysctl -n net.ipv4.conf.all.forwarding) = 0")

    # client -> hub -> gateway -> LAN service.
    lan.wait_for_open_port(80)
    client.wait_until_succeeds("curl -sf --max-time 5 http://10.69.13.11/hostname", timeout=90)

    # Masquerade: the LAN host saw the gateway's LAN address and needs no
    # route back to the VPN pool.
    lan.succeed("journalctl -u web80 | grep -q '10.69.13.1 '")
    lan.fail("journalctl -u web80 | grep -q '10.69.222.10'")
    lan.fail("ip route | grep -q 10.69.222")
    gateway.succeed("nft list table ip hearth-nat | grep -q masquerade")

    # Without hearth.allowlist the gateway forwards every port (the
    # allowlist test covers the filter).
    lan.wait_for_open_port(8080)
    client.succeed("curl -sf --max-time 5 http://10.69.13.11:8080/hostname")

    # The hub does not masquerade and has no nftables table of hearth's.
    hub.fail("nft list table ip hearth-nat")

    # Negative: the LAN is reached through the tunnel and nothing else; with
    # the gateway's interface down the client gets nowhere.
    gateway.systemctl("stop wireguard-hearth0.service")
    client.fail("curl -sf --max-time 5 http://10.69.13.11/hostname")
  '';
}
