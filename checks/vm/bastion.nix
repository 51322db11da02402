# VM test of modules/bastion.nix: SSH with public key plus TOTP code, the
# code computed with oathtool from the TEST-ONLY seed. Key alone, code alone,
# a wrong code, a reused code (also after the seed is reinstalled), an expired
# certificate and a login from outside the allowed networks must all fail; a
# certificate from the user CA plus the code works; the PAM stack never asks
# for a unix password.
#
# OpenSSH >= 9.8 (nixpkgs 26.05) penalises a source address after failed
# authentications (PerSourcePenalties, default authfail:5 min:15): after a
# few failures from one address its next connections are refused before PAM
# runs. The bastion keeps that default in production (it complements the
# TOTP rate limit; see modules/bastion.nix). This test makes many failed
# attempts on purpose, so `client` is exempt (PerSourcePenaltyExemptList,
# test only) and `prober`, not exempt, proves the penalty is on.
#
#   client 192.168.1.2 -- bastion 192.168.1.1     vlan 1 (allowed source; penalty-exempt)
#   prober 192.168.1.3 -- bastion                 vlan 1 (allowed source)
#   outsider 192.168.2.2 -- bastion 192.168.2.1   vlan 2 (not allowed)
{ lib, ... }:
let
  inherit (import ./lib.nix { inherit lib; }) address secret;
  seed = lib.removeSuffix "\n" (builtins.readFile ./test-keys/totp-alice-TEST-ONLY.b32);
  sshClient =
    { pkgs, ... }:
    {
      environment.systemPackages = [
        pkgs.oath-toolkit
        pkgs.openssh
      ];
    };
in
{
  name = "hearth-bastion";

  defaults.imports = [ ./common.nix ];

  nodes = {
    bastion = {
      imports = [
        (address "eth1" "192.168.1.1")
        (address "eth2" "192.168.2.1")
      ];
      virtualisation.vlans = [
        1
        2
      ];
      age.secrets.hearth-totp-alice = secret ./test-keys/totp-alice-TEST-ONLY.age;
      hearth.bastion = {
        enable = true;
        port = 22;
        allowedSources = [ "192.168.1.0/24" ];
        users = [
          {
            name = "alice";
            sshKeys = [ (lib.removeSuffix "\n" (builtins.readFile ./test-keys/alice-ed25519-TEST-ONLY.pub)) ];
            totp = true;
            # The deploy path: wheel, sudo without a password, trusted by Nix.
            deploy = true;
            totpSecret = "hearth-totp-alice";
          }
        ];
        userCA.publicKey = lib.removeSuffix "\n" (builtins.readFile ./test-keys/user-ca-ed25519-TEST-ONLY.pub);
        totp = {
          window = 3;
          # Roomier than the default so the negative cases below do not trip
          # the limit before its own test.
          rateLimit = {
            attempts = 10;
            seconds = 30;
          };
          stateDir = "/var/lib/hearth/totp";
        };
        maxAuthTries = 3;
        loginGraceTime = 30;
      };
      # Test only: the negative cases below would otherwise be refused by
      # OpenSSH's per-source penalties before they reach PAM.
      services.openssh.settings.PerSourcePenaltyExemptList = "192.168.1.2";
    };

    prober = {
      imports = [
        (address "eth1" "192.168.1.3")
        sshClient
      ];
      virtualisation.vlans = [ 1 ];
    };

    client = {
      imports = [
        (address "eth1" "192.168.1.2")
        sshClient
      ];
      virtualisation.vlans = [ 1 ];
    };

    outsider = {
      imports = [
        (address "eth1" "192.168.2.2")
        sshClient
      ];
      virtualisation.vlans = [ 2 ];
    };
  };

  testScript = ''
    import shlex

    SEED = "${seed}"

    def code(m, offset=0):
        """The TOTP code at now + offset seconds, as the phone app shows it."""
        return m.succeed(
            f"oathtool --totp -b {SEED} -N \"$(date -u -d @$(( $(date +%s) + {offset} )) '+%Y-%m-%d %H:%M:%S UTC')\""
        ).strip()

    def ssh(m, answer, key="/root/alice", host="192.168.1.1", extra=""):
        """ssh as alice; keyboard-interactive prompts are answered by an
        askpass script that records each prompt in /tmp/prompts."""
        m.succeed(
            "printf '#!/bin/sh\\necho \"$1\" >> /tmp/prompts\\necho %s\\n' "
            + shlex.quote(answer)
            + " > /tmp/askpass && chmod +x /tmp/askpass"
        )
        return (
            "SSH_ASKPASS=/tmp/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 "
            f"ssh -i {key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no "
            # One code per connection, so every attempt is one PAM attempt.
            f"-o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 -o NumberOfPasswordPrompts=1 {extra} alice@{host} true < /dev/null"
        )

    def reuse_refusals():
        """How often pam_google_authenticator refused a code as reused."""
        return int(bastion.succeed("journalctl -o cat | grep -c 'Trying to reuse a previously used time-based code' || true").strip())

    start_all()

    # The seed was installed from agenix into the state directory:
    # root-only, seed line plus the renderer's header.
    bastion.wait_for_unit("hearth-totp.service")
    bastion.wait_for_unit("sshd.service")
    bastion.succeed("test \"$(stat -c '%a %U' /var/lib/hearth/totp/alice)\" = '600 root'")
    bastion.succeed("head -n 1 /var/lib/hearth/totp/alice | grep -qx ${seed}")
    bastion.succeed("grep -qx '\" DISALLOW_REUSE' /var/lib/hearth/totp/alice")
    bastion.succeed("grep -qx '\" RATE_LIMIT 10 30' /var/lib/hearth/totp/alice")
    # sshd runs with the rendered settings.
    bastion.succeed("sshd -T | grep -qx 'authenticationmethods publickey,keyboard-interactive'")
    bastion.succeed("sshd -T | grep -qx 'passwordauthentication no'")
    bastion.succeed("sshd -T | grep -qx 'permitrootlogin no'")
    bastion.succeed("sshd -T | grep -qx 'trustedusercakeys /etc/ssh/hearth-user-ca.pub'")
    bastion.succeed("diff /etc/ssh/hearth-user-ca.pub ${./test-keys/user-ca-ed25519-TEST-ONLY.pub}")

    for m in (client, outsider):
        m.succeed("install -m 600 ${./test-keys/alice-ed25519-TEST-ONLY} /root/alice")
        m.succeed("install -m 600 ${./test-keys/mallory-ed25519-TEST-ONLY} /root/mallory")
    bastion.wait_for_open_port(22)

    # Key + current code: a shell.
    used = code(client)
    client.succeed(ssh(client, used))

    # The PAM stack asked for the code and nothing else (no unix password).
    client.succeed("grep -q 'Verification code' /tmp/prompts")
    client.fail("grep -qi 'password' /tmp/prompts")

    # The same code a second time: refused, as a reused code (DISALLOW_REUSE).
    client.fail(ssh(client, used))
    assert reuse_refusals() == 1, "the second login was not refused as a reused code"

    # Key + wrong code: refused.
    wrong = "000000" if used != "000000" else "111111"
    client.fail(ssh(client, wrong))

    # Code without the key (a key nobody authorised): refused.
    client.fail(ssh(client, code(client, 30), key="/root/mallory"))

    # Key alone, no second factor: refused.
    client.fail(ssh(client, "", extra="-o KbdInteractiveAuthentication=no"))

    # Reuse protection survives reinstalling the seed (activation, reboot):
    # log in with the next code, rerun the installer, the code stays spent.
    nxt = code(client, 30)
    client.succeed(ssh(client, nxt))
    bastion.systemctl("restart hearth-totp.service")
    bastion.succeed("journalctl -u hearth-totp.service | grep -q 'alice: seed unchanged, state kept'")
    client.fail(ssh(client, nxt))
    assert reuse_refusals() == 2, "after reinstalling the seed the used code was not refused as reused"

    # From outside the allowed networks: refused even with key and code.
    outsider.fail(ssh(outsider, code(outsider, -30), host="192.168.2.1"))

    # SSH user CA: carol's key is listed nowhere; with a certificate for
    # alice from the CA (plus the code) it gets in, with an expired one not.
    client.succeed("install -m 600 ${./test-keys/user-ca-ed25519-TEST-ONLY} /root/ca")
    for k in ("carol", "carol-old"):
        client.succeed(f"install -m 600 ${./test-keys/carol-ed25519-TEST-ONLY} /root/{k}")
        client.succeed(f"install -m 644 ${./test-keys/carol-ed25519-TEST-ONLY.pub} /root/{k}.pub")
    client.succeed("ssh-keygen -q -s /root/ca -I carol -n alice -V -5m:+1h /root/carol.pub")
    client.succeed("ssh-keygen -q -s /root/ca -I carol-old -n alice -V 20200101:20200102 /root/carol-old.pub")
    # Wait for a TOTP step no code was used in yet.
    client.succeed("sleep $(( 31 - $(date +%s) % 30 ))")
    client.succeed(ssh(client, code(client), key="/root/carol"))
    client.fail(ssh(client, code(client, 30), key="/root/carol-old"))
    bastion.succeed("journalctl -u sshd.service | grep -q 'Accepted certificate ID \"carol\"'")

    # The journal names the key and the outcome for the log shipper.
    # (With two methods sshd logs the key step as "Partial publickey".)
    bastion.succeed("journalctl -u sshd.service | grep -Eq '(Partial|Accepted) publickey for alice .*SHA256:'")
    bastion.succeed("journalctl -u sshd.service | grep -q 'Accepted keyboard-interactive/pam for alice'")

    # The deploy path (README "Deploying to the bastion"): one code opens a
    # master connection, as `hearth ssh-config` configures it; through it a
    # second connection needs no code, and alice, a deploy user, may sudo
    # without a password as `nixos-rebuild --target-host alice@... --sudo`
    # does. Without the master a code-less connection is refused.
    bastion.succeed("id -nG alice | grep -qw wheel")
    client.succeed("sleep $(( 31 - $(date +%s) % 30 ))")
    mux = "-o ControlMaster=auto -o ControlPath=/tmp/mux-%C -o ControlPersist=60"
    client.succeed(ssh(client, code(client), extra=mux))
    client.succeed(ssh(client, "", extra=mux).replace(" true < /dev/null", " sudo -n true < /dev/null"))
    client.fail(ssh(client, "").replace(" true < /dev/null", " sudo -n true < /dev/null"))
    client.succeed(f"ssh {mux} -O exit alice@192.168.1.1 || true")

    # The rate limit (10 attempts per 30 s here): a burst of wrong codes
    # trips it, and pam_google_authenticator says so in the journal.
    for _ in range(11):
        client.fail(ssh(client, wrong))
    bastion.succeed("journalctl | grep -q 'Too many concurrent login attempts'")

    # The production setting: PerSourcePenalties stays on (OpenSSH's
    # default). Repeated failures from a non-exempt source get it refused
    # before authentication, which sshd logs as a penalty.
    bastion.succeed("sshd -T | grep -q '^persourcepenalties '")
    prober.succeed("install -m 600 ${./test-keys/alice-ed25519-TEST-ONLY} /root/alice")
    for _ in range(6):
        prober.fail(ssh(prober, wrong))
    bastion.wait_until_succeeds("journalctl -u sshd.service | grep -q 'penalty'", timeout=30)

    # Root cannot log in at all.
    client.fail("ssh -i /root/alice -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@192.168.1.1 true")
  '';
}
