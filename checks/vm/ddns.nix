# VM test of modules/ddns.nix: the gateway keeps a record current at a fake
# dyndns2 provider with nixpkgs' ddclient, authenticating with a token that
# agenix decrypted; the token reaches the provider but never the Nix store.
#
#   gateway 192.168.1.1 ---- provider 192.168.1.2   vlan 1: "the internet"
#   provider: /ip answers the gateway's public address, /nic/update records
#   each update (path and Authorization header) in /tmp/updates.
{ lib, ... }:
let
  inherit (import ./lib.nix { inherit lib; }) secret address;
  fakeProvider = builtins.toFile "fake-dyndns2.py" ''
    import http.server

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/ip":
                body = self.client_address[0]
            elif self.path.startswith("/nic/update"):
                with open("/tmp/updates", "a") as f:
                    f.write(self.path + " " + self.headers.get("Authorization", "-") + "\n")
                body = "good " + self.client_address[0]
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body.encode())

    http.server.HTTPServer(("0.0.0.0", 80), H).serve_forever()
  '';
in
{
  name = "hearth-ddns";

  defaults.imports = [ ./common.nix ];

  nodes = {
    provider =
      { pkgs, ... }:
      {
        imports = [ (address "eth1" "192.168.1.2") ];
        virtualisation.vlans = [ 1 ];
        networking.firewall.allowedTCPPorts = [ 80 ];
        systemd.services.fake-dyndns2 = {
          wantedBy = [ "multi-user.target" ];
          serviceConfig.ExecStart = "${pkgs.python3}/bin/python3 ${fakeProvider}";
        };
      };

    gateway = {
      imports = [ (address "eth1" "192.168.1.1") ];
      virtualisation.vlans = [ 1 ];
      networking.hostName = "gateway";
      age.secrets."ddns-token" = secret ./test-keys/ddns-token-TEST-ONLY.age;
      # As `hearth render` writes it for [ddns] (hosts/<gw>/hearth.nix).
      hearth.ddns = {
        enable = true;
        protocol = "dyndns2";
        server = "provider";
        zone = "";
        username = "hearth";
        domains = [ "homelab.example.net" ];
        interval = "1min";
        usev4 = "webv4, webv4=http://provider/ip";
        ssl = false;
        passwordSecret = "ddns-token";
      };
    };
  };

  testScript = ''
    import base64

    start_all()
    provider.wait_for_unit("fake-dyndns2.service")
    provider.wait_for_open_port(80)
    gateway.wait_for_unit("multi-user.target")

    # The timer runs ddclient at the configured interval.
    gateway.succeed("systemctl list-timers ddclient.timer | grep -q ddclient")

    # An update reaches the provider for the record, with the gateway's
    # address and the agenix token as the password.
    gateway.systemctl("start ddclient.service")
    provider.wait_until_succeeds("grep -q 'hostname=homelab.example.net' /tmp/updates", timeout=60)
    provider.succeed("grep 'hostname=homelab.example.net' /tmp/updates | grep -q 'myip=192.168.1.1'")
    auth = "Basic " + base64.b64encode(b"hearth:TEST-ONLY-ddns-token").decode()
    provider.succeed(f"grep -qF '{auth}' /tmp/updates")

    # The token is an agenix file (root only) and is not in the store: the
    # generated ddclient.conf holds only the placeholder.
    gateway.succeed("test \"$(stat -c '%a %U' /run/agenix/ddns-token)\" = '400 root'")
    gateway.fail("grep -rls TEST-ONLY-ddns-token /nix/store/*ddclient.conf")
    gateway.succeed("grep -q '@password_placeholder@' /nix/store/*ddclient.conf")

    # Without the decrypted token the unit fails (its preStart cannot
    # substitute it) instead of sending an update without a password.
    gateway.succeed("mv /run/agenix/ddns-token /run/agenix/ddns-token.bak")
    gateway.fail("systemctl start ddclient.service")
    gateway.succeed("mv /run/agenix/ddns-token.bak /run/agenix/ddns-token")
    gateway.succeed("systemctl start ddclient.service")
  '';
}
