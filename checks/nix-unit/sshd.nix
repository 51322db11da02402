# Renderer tests for modules/lib/sshd.nix.
let
  lib = import ../../modules/lib;
  fx = import ./fixtures.nix;
  b = fx.minimalGateway.bastion;
  ca = { publicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhearthtestca hearth-user-ca"; };
in
[
  {
    name = "example bastion: settings attrs";
    expr = lib.bastion.settings b;
    expected = {
      AllowAgentForwarding = false;
      AllowTcpForwarding = "yes";
      AllowUsers = [
        "torjus@10.69.222.0/24"
        "torjus@10.69.13.0/24"
      ];
      AuthenticationMethods = "publickey,keyboard-interactive";
      KbdInteractiveAuthentication = true;
      LogLevel = "VERBOSE";
      LoginGraceTime = 30;
      MaxAuthTries = 3;
      PasswordAuthentication = false;
      PermitRootLogin = "no";
      UsePAM = true;
      X11Forwarding = false;
    };
  }
  {
    name = "example bastion: sshd_config lines, sorted";
    expr = lib.bastion.configText b;
    expected = ''
      AllowAgentForwarding no
      AllowTcpForwarding yes
      AllowUsers torjus@10.69.222.0/24 torjus@10.69.13.0/24
      AuthenticationMethods publickey,keyboard-interactive
      KbdInteractiveAuthentication yes
      LogLevel VERBOSE
      LoginGraceTime 30
      MaxAuthTries 3
      PasswordAuthentication no
      PermitRootLogin no
      UsePAM yes
      X11Forwarding no
    '';
  }
  {
    name = "user CA: TrustedUserCAKeys at the default path";
    expr = (lib.bastion.settings (b // { userCA = ca; })).TrustedUserCAKeys;
    expected = "/etc/ssh/hearth-user-ca.pub";
  }
  {
    name = "user CA: key file path passed in through cfg (the lab)";
    expr = (lib.bastion.settings (b // { userCA = ca // { keyFile = "/run/hearth-lab/ca.pub"; }; })).TrustedUserCAKeys;
    expected = "/run/hearth-lab/ca.pub";
  }
  {
    name = "no allowed sources: plain user names";
    expr = (lib.bastion.settings (b // { allowedSources = [ ]; })).AllowUsers;
    expected = [ "torjus" ];
  }
  {
    name = "two users, two networks";
    expr = (lib.bastion.settings (b // { users = b.users ++ [ { name = "alice"; sshKeys = [ ]; totp = false; totpSecret = null; } ]; })).AllowUsers;
    expected = [
      "torjus@10.69.222.0/24"
      "torjus@10.69.13.0/24"
      "alice@10.69.222.0/24"
      "alice@10.69.13.0/24"
    ];
  }
  { name = "no users"; throws = lib.bastion.settings (b // { users = [ ]; }); message = "hearth.bastion.users is empty"; }
  { name = "user name with a space (AllowUsers is space separated)"; throws = lib.bastion.configText (b // { users = [ { name = "torjus root"; totp = true; } ]; }); message = "is not a Unix user name"; }
  { name = "user name with a newline"; throws = lib.bastion.configText (b // { users = [ { name = "x\nPermitRootLogin yes"; totp = true; } ]; }); }
  { name = "allowed source not a CIDR"; throws = lib.bastion.configText (b // { allowedSources = [ "*" ]; }); }
  { name = "CA key file with a newline"; throws = lib.bastion.configText (b // { userCA = ca // { keyFile = "/x\nPermitRootLogin yes"; }; }); }
  { name = "MaxAuthTries 0"; throws = lib.bastion.configText (b // { maxAuthTries = 0; }); }
]
