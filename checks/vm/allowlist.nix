# VM test of modules/allowlist.nix: two VPN clients dial the gateway
# directly (a homelab without a hub); the gateway lets them reach exactly
# what the allowlist says, drops, counts and logs the rest, and accepts SSH
# only from the VPN and the LAN, rate-limited per source.
#
#   admin 192.168.1.2 --\                     vlan 1: "the internet"
#   phone 192.168.1.3 ---+-- gateway 192.168.1.1:51820
#   gateway 10.69.13.1 ---- lan 10.69.13.11    vlan 2: the LAN
#   VPN 10.69.222.0/24: gateway .1, admin .10 (admins, all), phone .11 (family, all)
{ lib, ... }:
let
  inherit (import ./lib.nix { inherit lib; }) keys secret address noMasquerade;
  vpnClient = name: vpnAddress: internetAddress: {
    imports = [ (address "eth1" internetAddress) ];
    virtualisation.vlans = [ 1 ];
    age.secrets.hearth-wireguard-key = secret (./test-keys + "/wg-${name}-TEST-ONLY.age");
    hearth.wireguard = {
      enable = true;
      interface = "hearth0";
      role = "client";
      addresses = [ "${vpnAddress}/32" ];
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
  tools =
    { pkgs, ... }:
    {
      environment.systemPackages = [
        pkgs.curl
        pkgs.netcat
        pkgs.socat
      ];
    };
in
{
  name = "hearth-allowlist";

  defaults.imports = [
    ./common.nix
    tools
  ];

  nodes = {
    gateway = {
      imports = [
        (address "eth1" "192.168.1.1")
        (address "eth2" "10.69.13.1")
      ];
      virtualisation.vlans = [
        1
        2
      ];
      services.openssh.enable = true;
      age.secrets.hearth-wireguard-key = secret ./test-keys/wg-gateway-TEST-ONLY.age;
      hearth.wireguard = {
        enable = true;
        interface = "hearth0";
        role = "gateway";
        addresses = [ "10.69.222.1/32" ];
        # No hub: the clients dial the gateway, which listens.
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
          {
            name = "phone";
            publicKey = keys.phone;
            allowedIPs = [ "10.69.222.11/32" ];
            endpoint = null;
            persistentKeepalive = null;
            presharedKeySecret = null;
          }
        ];
      };
      hearth.allowlist = {
        enable = true;
        interface = "hearth0";
        sources = {
          admins = [ "10.69.222.10" ];
          family = [ "10.69.222.11" ];
          all = [
            "10.69.222.10"
            "10.69.222.11"
          ];
        };
        rules = [
          {
            name = "grafana";
            from = [ "admins" ];
            to = [ "10.69.13.11" ];
            proto = [ "tcp" ];
            ports = [ "3000" ];
          }
          {
            name = "dns";
            from = [ "all" ];
            to = [ "10.69.13.11" ];
            proto = [
              "tcp"
              "udp"
            ];
            ports = [ "53" ];
          }
        ];
        log = {
          enable = true;
          rate = "10/minute";
        };
        ssh = {
          enable = true;
          port = 22;
          sources = [
            "10.69.222.0/24"
            "10.69.13.0/24"
          ];
          rate = "1/minute";
          burst = 4;
        };
      };
    };

    admin = vpnClient "admin" "10.69.222.10" "192.168.1.2";
    phone = vpnClient "phone" "10.69.222.11" "192.168.1.3";

    lan =
      { pkgs, ... }:
      {
        imports = [ (address "eth1" "10.69.13.11") ];
        virtualisation.vlans = [ 2 ];
        services.openssh.enable = true;
        networking.firewall.allowedTCPPorts = [
          53
          3000
          8080
        ];
        networking.firewall.allowedUDPPorts = [ 53 ];
        systemd.services = {
          grafana-standin = {
            wantedBy = [ "multi-user.target" ];
            serviceConfig.ExecStart = "${pkgs.python3}/bin/python3 -m http.server --directory /etc 3000";
          };
          forbidden-web = {
            wantedBy = [ "multi-user.target" ];
            serviceConfig.ExecStart = "${pkgs.python3}/bin/python3 -m http.server --directory /etc 8080";
          };
          dns-tcp = {
            wantedBy = [ "multi-user.target" ];
            serviceConfig.ExecStart = "${pkgs.socat}/bin/socat TCP-LISTEN:53,fork,reuseaddr \"SYSTEM:echo dns-tcp\"";
          };
          dns-udp = {
            wantedBy = [ "multi-user.target" ];
            serviceConfig.ExecStart = "${pkgs.socat}/bin/socat UDP-RECVFROM:53,fork \"SYSTEM:echo dns-udp\"";
          };
        };
      };
  };

  testScript = ''
    start_all()

    # NixOS loaded hearth's table next to its own firewall: forward policy
    # drop, one verdict-map lookup per new flow.
    gateway.wait_for_unit("nftables.service")
    gateway.succeed("nft list chain inet hearth forward | grep -q 'policy drop'")
    gateway.succeed("nft list chain inet hearth forward | grep -q 'ip saddr vmap @src_class'")
    gateway.succeed("nft list table ip hearth-nat | grep -q masquerade")

    for m in (admin, phone):
        m.wait_for_unit("wireguard-hearth0.service")
    lan.wait_for_open_port(3000)
    lan.wait_for_open_port(8080)
    lan.wait_for_open_port(53)

    # admins reach Grafana through the tunnel.
    admin.wait_until_succeeds("curl -sf --max-time 5 http://10.69.13.11:3000/hostname", timeout=90)

    # The phone is only in "family" and "all": the tunnel works (it reaches
    # DNS), Grafana does not.
    phone.wait_until_succeeds("echo q | socat -t 3 - TCP:10.69.13.11:53 | grep -q dns-tcp", timeout=90)
    phone.fail("curl -sf --max-time 5 http://10.69.13.11:3000/hostname")

    # Everyone reaches DNS over TCP and UDP.
    for m in (admin, phone):
        m.succeed("echo q | socat -t 3 - TCP:10.69.13.11:53 | grep -q dns-tcp")
        m.succeed("echo q | socat -t 3 - UDP:10.69.13.11:53 | grep -q dns-udp")

    # Nothing else: other ports, SSH and ping into the LAN are dropped.
    admin.fail("curl -sf --max-time 5 http://10.69.13.11:8080/hostname")
    admin.fail("nc -z -w 3 10.69.13.11 22")
    admin.fail("ping -c 1 -W 2 10.69.13.11")

    # Drops are counted and logged (rate-limited) with the hearth-drop prefix.
    gateway.succeed("nft list counter inet hearth forward_drop | grep -Eq 'packets [1-9]'")
    gateway.wait_until_succeeds("journalctl -k -o cat | grep 'hearth-drop ' | grep -q 'SRC=10.69.222.11'")

    # Traffic that does not enter from hearth0 is not hearth's business:
    # the LAN host still reaches the gateway's SSH.
    lan.succeed("nc -z -w 3 10.69.13.1 22")

    # SSH to the gateway only from the VPN and the LAN: not from the
    # internet side.
    admin.succeed("nc -z -w 3 10.69.222.1 22")
    admin.fail("nc -z -w 3 192.168.1.1 22")
    gateway.succeed("nft list counter inet hearth ssh_drop | grep -Eq 'packets [1-9]'")

    # New SSH connections are rate-limited per source (burst 4, then
    # 1/minute): admin runs out, the phone is not affected.
    results = [admin.execute("nc -z -w 2 10.69.222.1 22")[0] for _ in range(8)]
    assert any(r != 0 for r in results), f"the per-source SSH rate limit never applied: {results}"
    phone.succeed("nc -z -w 3 10.69.222.1 22")
  '';
}
