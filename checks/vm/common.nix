# Shared by the VM tests (not by real hosts): gives a test VM the checked-in
# TEST-ONLY host key before agenix runs, so it can decrypt test-keys/*.age.
{ config, lib, ... }:
lib.mkIf (config.age.secrets != { }) {
  system.activationScripts.hearthTestHostKey.text = ''
    mkdir -p /etc/ssh
    (umask 022; cp ${./test-keys/host-ed25519-TEST-ONLY.pub} /etc/ssh/ssh_host_ed25519_key.pub)
    (umask 077; cp ${./test-keys/host-ed25519-TEST-ONLY} /etc/ssh/ssh_host_ed25519_key)
  '';
  system.activationScripts.agenixInstall.deps = [ "hearthTestHostKey" ];
  age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
}
