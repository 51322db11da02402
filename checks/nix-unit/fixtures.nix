# Hand-written inputs for the exact-output renderer tests
# (checks/nix-unit/*.nix) and the module evaluation (checks/eval): each is the
# smallest data that takes every path of a renderer, written out so a test's
# expected text can be read next to its input. They are NOT copies of
# generated files: the generated example (hosts/*/hearth.nix) goes through
# every renderer in generator/tests/example_previews.rs and through the
# modules in checks/eval (which reads hosts/ itself). `minimalGateway` is the
# gateway of docs/design.md. fixtures-shape.nix holds each fixture to the
# shape the generator writes (the same field names at every depth as the
# example's hosts/extgw01), so a fixture cannot drift from the generator.
{
  minimalGateway = {
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
        except = [ ];
      };
      peers = [
        {
          name = "vps";
          publicKey = "zxfp8tWAQauDIsSM+QGmCI7QqJKcXanzdF903FjT5Dg=";
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

  # Names that try to break out of `comment "..."` or start new statements.
  hostileAllowlist = {
    interface = "hearth0";
    sources = {
      "x\"; flush ruleset; \"" = [ "10.69.222.10" ];
      "}\n\${evil}" = [ "10.69.222.11" ];
    };
    rules = [
      {
        name = "web\" accept; #";
        from = [ "x\"; flush ruleset; \"" ];
        to = [ "10.69.13.11" ];
        proto = [ "tcp" ];
        ports = [ "443" ];
      }
      {
        name = "a\nchain evil { }";
        from = [ "}\n\${evil}" ];
        to = [ "10.69.13.12" ];
        proto = [ "udp" ];
        ports = [ "5000-5010" ];
      }
    ];
    log = {
      enable = false;
      rate = "1/second";
    };
    ssh.enable = false;
  };

  # A LAN-wide rule overlapping a host rule, a group overlapping a subnet,
  # overlapping SSH sources, and a set no rule uses.
  overlapAllowlist = {
    interface = "wg-hearth";
    sources = {
      lan = [ "10.69.13.0/24" ];
      admins = [
        "10.69.13.5"
        "10.69.222.10"
      ];
      unused = [ "10.69.222.99" ];
    };
    rules = [
      {
        name = "low ports";
        from = [ "lan" ];
        to = [ "10.69.13.0/24" ];
        proto = [ "tcp" ];
        ports = [ "1-1000" ];
      }
      {
        name = "http";
        from = [ "admins" ];
        to = [ "10.69.13.11" ];
        proto = [ "tcp" ];
        ports = [
          "80"
          "8000-8100"
        ];
      }
    ];
    log = {
      enable = true;
      rate = "5/second";
    };
    ssh = {
      enable = true;
      port = 2222;
      sources = [
        "10.69.13.0/24"
        "10.69.13.7"
        "10.69.14.0/24"
      ];
      rate = "3/minute";
      burst = 2;
    };
  };
}
