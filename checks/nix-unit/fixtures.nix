# Fixture hosts shared by the renderer tests (checks/nix-unit/*.nix) and the
# module evaluation (checks/eval). `exampleGateway` is the example gateway of
# docs/design.md, field for field (`hearth.nix` without `age.secrets`).
{
  exampleGateway = {
    wireguard = {
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
          name = "vps";
          publicKey = "base64=";
          allowedIPs = [ "10.69.222.0/24" ];
          endpoint = "vps.2rjus.net:51821";
          persistentKeepalive = 25;
          presharedKeySecret = "hearth-wireguard-psk-vps";
        }
      ];
    };
    allowlist = {
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
          to = [ "10.69.13.5" ];
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
        rate = "10/minute";
        burst = 5;
      };
    };
    bastion = {
      enable = true;
      port = 22;
      allowedSources = [
        "10.69.222.0/24"
        "10.69.13.0/24"
      ];
      users = [
        {
          name = "torjus";
          sshKeys = [ "ssh-ed25519 AAAA..." ];
          totp = true;
          totpSecret = "hearth-totp-torjus";
        }
      ];
      userCA = null;
      totp = {
        window = 3;
        rateLimit = {
          attempts = 3;
          seconds = 30;
        };
        stateDir = "/var/lib/hearth/totp";
      };
      maxAuthTries = 3;
      loginGraceTime = 30;
    };
  };
}
