// MakeSelfSignedCert: a certificate for "localhost" and 127.0.0.1
// (subjectAltName), made with the openssl command, for tests that serve or
// reach HTTPS on loopback. `cert_file` is also the CA bundle a client needs.
#ifndef SARING_TESTS_TESTING_SELF_SIGNED_CERT_H_
#define SARING_TESTS_TESTING_SELF_SIGNED_CERT_H_

#include <stdexcept>
#include <string>

#include "testing/subprocess.h"

namespace saring::testing {

struct SelfSignedCert {
  std::string cert_file;
  std::string key_file;
};

// Writes cert.pem and key.pem into `dir` (e.g. a TempDir's path); throws
// std::runtime_error when openssl fails.
inline SelfSignedCert MakeSelfSignedCert(const std::string& dir, const std::string& common_name = "localhost") {
  SelfSignedCert cert{dir + "/cert.pem", dir + "/key.pem"};
  ProgramResult r = RunProgram(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", cert.key_file, "-out", cert.cert_file, "-days", "7", "-subj", "/CN=" + common_name, "-addext",
       "subjectAltName=DNS:localhost,IP:127.0.0.1"},
      "", dir);
  if (r.status != 0) throw std::runtime_error("openssl req failed: " + r.err);
  return cert;
}

}  // namespace saring::testing

#endif  // SARING_TESTS_TESTING_SELF_SIGNED_CERT_H_
