# Shared by the VM tests (not by real hosts): gives a test VM the checked-in
# TEST-ONLY host key before agenix runs, so it can decrypt test-keys/*.age.
#
# agenix installs secrets from an activation script (agenixInstall), or,
# with systemd-sysusers or userborn, from agenix-install-secrets.service
# (ordered after systemd-sysusers, in sysinit.target) and defines no
# activation script at all (ryantm/agenix modules/age.nix at b027ee29,
# `sysusersEnabled`). The key is put in place before whichever runs; naming
# the activation script when agenix does not define it would leave a script
# without text and break evaluation.
{
  config,
  lib,
  options,
  ...
}:
let
  # The same condition as agenix's `sysusersEnabled`.
  sysusers =
    options.systemd ? sysusers && (config.systemd.sysusers.enable || config.services.userborn.enable);
  installKey = ''
    mkdir -p /etc/ssh
    (umask 022; cp ${./test-keys/host-ed25519-TEST-ONLY.pub} /etc/ssh/ssh_host_ed25519_key.pub)
    (umask 077; cp ${./test-keys/host-ed25519-TEST-ONLY} /etc/ssh/ssh_host_ed25519_key)
  '';
in
lib.mkIf (config.age.secrets != { }) (
  lib.mkMerge [
    { age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ]; }
    (lib.mkIf (!sysusers) {
      system.activationScripts.hearthTestHostKey.text = installKey;
      system.activationScripts.agenixInstall.deps = [ "hearthTestHostKey" ];
    })
    (lib.mkIf sysusers {
      systemd.services.hearth-test-host-key = {
        description = "hearth VM test: the TEST-ONLY host key, before agenix decrypts";
        wantedBy = [ "sysinit.target" ];
        requiredBy = [ "agenix-install-secrets.service" ];
        before = [ "agenix-install-secrets.service" ];
        unitConfig.DefaultDependencies = "no";
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
        };
        script = installKey;
      };
    })
  ]
)
