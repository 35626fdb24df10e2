# ruff: noqa: E501 - the fixtures are lockfiles as the tools write them: hashes and URLs make long lines
"""npm-family dependency files parsed statically: package.json, package-lock v1/v2/v3, npm-shrinkwrap,
yarn.lock classic and berry, pnpm-lock v6 and v9, bun.lock. Each fixture has the structure the real tool
writes (metadata, nested copies, dev dependencies, integrity, registries)."""

from __future__ import annotations

import pytest

from checks.dependencies.model import NPM, ParseError
from tests.dep_sources_util import by_name, dedent, line_of, parse

PACKAGE_JSON = dedent("""
    {
      "name": "shop-web",
      "version": "2.3.0",
      "private": true,
      "scripts": {
        "build": "webpack --mode production",
        "test": "jest"
      },
      "dependencies": {
        "express": "^4.18.2",
        "lodash": "4.17.21",
        "left-pad": "github:stevemao/left-pad#master",
        "tiny-lib": "git+https://github.com/acme/tiny-lib.git#3f1c2b7a9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f70",
        "legacy": "https://example.com/legacy-1.0.0.tgz",
        "strip": "npm:strip-ansi@6.0.1",
        "shared": "workspace:*"
      },
      "devDependencies": {
        "jest": "^29.7.0"
      },
      "publishConfig": {
        "registry": "https://npm.internal.example/"
      }
    }
""")


def test_package_json_declares_direct_dependencies_with_specs_and_sources() -> None:
    parsed = parse("web/package.json", PACKAGE_JSON)
    pkgs = by_name(parsed)
    assert not parsed.lockfile and parsed.ecosystem == NPM
    assert pkgs["express"].version is None and pkgs["express"].spec == "^4.18.2"
    assert pkgs["express"].line == line_of(PACKAGE_JSON, '"express"')
    assert pkgs["lodash"].version == "4.17.21"
    assert pkgs["left-pad"].source == "github:stevemao/left-pad#master"
    assert pkgs["left-pad"].extra["vcs_ref"] == "master" and pkgs["left-pad"].extra["vcs_pinned"] is False
    assert pkgs["tiny-lib"].extra["vcs_pinned"] is True
    assert pkgs["legacy"].source == "https://example.com/legacy-1.0.0.tgz" and pkgs["legacy"].extra["url"]
    assert pkgs["strip-ansi"].version == "6.0.1" and pkgs["strip-ansi"].extra["alias"] == "strip"
    assert pkgs["jest"].extra["dev"] is True and pkgs["jest"].line == line_of(PACKAGE_JSON, '"jest": "^29')
    assert pkgs["shared"].extra["local"] is True
    assert all(p.direct for p in parsed.packages)
    assert [(s.kind, s.value) for s in parsed.settings] == [("registry", "https://npm.internal.example/")]


LOCK_V3 = dedent("""
    {
      "name": "shop-web",
      "version": "2.3.0",
      "lockfileVersion": 3,
      "requires": true,
      "packages": {
        "": {
          "name": "shop-web",
          "version": "2.3.0",
          "workspaces": [
            "packages/*"
          ],
          "dependencies": {
            "express": "^4.18.2",
            "left-pad": "github:stevemao/left-pad#master"
          },
          "devDependencies": {
            "jest-mock": "^29.7.0"
          }
        },
        "node_modules/@shop/ui": {
          "resolved": "packages/ui",
          "link": true
        },
        "node_modules/body-parser": {
          "version": "1.20.1",
          "resolved": "https://registry.npmjs.org/body-parser/-/body-parser-1.20.1.tgz",
          "integrity": "sha512-jWi7abTbYwajOytWCQc37VulmWiRae5RyTpaCyDcS5/lMdtwSz5lOpDE67srw/HYe35f1z3fDQw+3txg7gNtWw==",
          "dependencies": {
            "qs": "6.11.0"
          },
          "engines": {
            "node": ">= 0.8"
          }
        },
        "node_modules/express": {
          "version": "4.18.2",
          "resolved": "https://registry.npmjs.org/express/-/express-4.18.2.tgz",
          "integrity": "sha512-5/PsL6iGPdfQ/lKM1UuielYgv3BUoJfz1aUwU9vHZ+J7gyvwdQXFEBIEIaxeGf0GIcreATNyBExtalisDbuMqQ==",
          "dependencies": {
            "body-parser": "1.20.1",
            "qs": "6.9.7"
          },
          "engines": {
            "node": ">= 0.10.0"
          }
        },
        "node_modules/express/node_modules/qs": {
          "version": "6.9.7",
          "resolved": "https://registry.npmjs.org/qs/-/qs-6.9.7.tgz",
          "integrity": "sha512-IhMFgUmuNpyRfxA90umL7ByLlgRXu6tIfKPpF5TmcfRLlLCckfP/g3IQmju6jjpu+Hh8rA+2p6A27ZSPOOHdKw==",
          "engines": {
            "node": ">=0.6"
          }
        },
        "node_modules/jest-mock": {
          "version": "29.7.0",
          "resolved": "https://registry.npmjs.org/jest-mock/-/jest-mock-29.7.0.tgz",
          "integrity": "sha512-ITOMZn+UkYS4ZFh83xYAOzWStloNzJFO2s8DWrE4lhtGD+AorgnbkiKERe4wQVBydIGPx059g6riW5Btp6Llnw==",
          "dev": true
        },
        "node_modules/left-pad": {
          "version": "1.3.0",
          "resolved": "git+ssh://git@github.com/stevemao/left-pad.git#5b5b7f8e2c8fd4d2d5b19a3d23d1c5b2a0f0a8e1",
          "license": "WTFPL"
        },
        "node_modules/qs": {
          "version": "6.11.0",
          "resolved": "https://registry.npmjs.org/qs/-/qs-6.11.0.tgz",
          "integrity": "sha512-MvjoMCJwEarSbUYk5O+nmoSzSutSsTwF85zcHPQ9OrlFoZOYIjaqBAJIqIXjptyD5vThxGq52Xu/MaJzRkIk4Q==",
          "dependencies": {
            "side-channel": "^1.0.4"
          }
        },
        "node_modules/side-channel": {
          "version": "1.0.4",
          "resolved": "https://mirror.example.org/side-channel/-/side-channel-1.0.4.tgz",
          "integrity": "sha512-q5XPytqFEIKHkGdiMIrY10mvLRvnQh42/+GoBlFW3b2LXLE2xxJpZFdm94we0BaoV3RwJyGqg5wS7epxTv0Zvw=="
        },
        "packages/ui": {
          "name": "@shop/ui",
          "version": "0.1.0",
          "dependencies": {
            "qs": "^6.11.0"
          }
        }
      }
    }
""")


def test_package_lock_v3_lines_graph_and_paths() -> None:
    parsed = parse("package-lock.json", LOCK_V3)
    assert parsed.lockfile
    pkgs = {(p.name, p.version): p for p in parsed.packages}
    assert set(pkgs) == {("body-parser", "1.20.1"), ("express", "4.18.2"), ("qs", "6.9.7"),
                         ("jest-mock", "29.7.0"), ("left-pad", "1.3.0"), ("qs", "6.11.0"),
                         ("side-channel", "1.0.4")}
    express = pkgs[("express", "4.18.2")]
    assert express.direct and express.via == () and express.line == line_of(LOCK_V3, '"node_modules/express"')
    assert express.integrity.startswith("sha512-5/PsL6")
    nested_qs = pkgs[("qs", "6.9.7")]
    assert not nested_qs.direct and nested_qs.via == ("express", "shop-web")
    assert nested_qs.line == line_of(LOCK_V3, '"node_modules/express/node_modules/qs"')
    hoisted_qs = pkgs[("qs", "6.11.0")]
    # reached from the workspace package (one hop) before express → body-parser (two hops)
    assert hoisted_qs.direct and hoisted_qs.via == ()
    side = pkgs[("side-channel", "1.0.4")]
    assert not side.direct and side.via == ("qs", "@shop/ui")
    assert pkgs[("jest-mock", "29.7.0")].extra["dev"] is True
    assert pkgs[("left-pad", "1.3.0")].source.startswith("git+ssh://git@github.com/stevemao/left-pad.git#")
    assert pkgs[("left-pad", "1.3.0")].extra["vcs_ref"] == "5b5b7f8e2c8fd4d2d5b19a3d23d1c5b2a0f0a8e1"
    assert "vcs_ref" not in pkgs[("express", "4.18.2")].extra
    assert [(s.kind, s.value, s.line) for s in parsed.settings] == [
        ("registry", "https://registry.npmjs.org", line_of(LOCK_V3, '"node_modules/body-parser"')),
        ("registry", "https://mirror.example.org", line_of(LOCK_V3, '"node_modules/side-channel"')),
    ]


LOCK_V2 = dedent("""
    {
      "name": "api",
      "version": "1.0.0",
      "lockfileVersion": 2,
      "requires": true,
      "packages": {
        "": {
          "name": "api",
          "version": "1.0.0",
          "dependencies": {
            "debug": "^2.6.9"
          }
        },
        "node_modules/debug": {
          "version": "2.6.9",
          "resolved": "https://registry.npmjs.org/debug/-/debug-2.6.9.tgz",
          "integrity": "sha512-bC7ElrdJaJnPbAP+1EotYvqZsb3ecl5wi6Bfi6BJTUcNowp6cvspg0jXznRTKDjm/E7AdgFBVeAPVMNcKGsHMA==",
          "dependencies": {
            "ms": "2.0.0"
          }
        },
        "node_modules/ms": {
          "version": "2.0.0",
          "resolved": "https://registry.npmjs.org/ms/-/ms-2.0.0.tgz",
          "integrity": "sha512-Tpp60P6IUJDTuOq/5Z8cdskzJujfwqfOTkrwIwj7IRISpnkJnT6SyJ4PCPnGMoFjC9ddhal5KVIYtAt97ix05A=="
        }
      },
      "dependencies": {
        "debug": {
          "version": "2.6.9",
          "resolved": "https://registry.npmjs.org/debug/-/debug-2.6.9.tgz",
          "integrity": "sha512-bC7ElrdJaJnPbAP+1EotYvqZsb3ecl5wi6Bfi6BJTUcNowp6cvspg0jXznRTKDjm/E7AdgFBVeAPVMNcKGsHMA==",
          "requires": {
            "ms": "2.0.0"
          }
        },
        "ms": {
          "version": "2.0.0",
          "resolved": "https://registry.npmjs.org/ms/-/ms-2.0.0.tgz",
          "integrity": "sha512-Tpp60P6IUJDTuOq/5Z8cdskzJujfwqfOTkrwIwj7IRISpnkJnT6SyJ4PCPnGMoFjC9ddhal5KVIYtAt97ix05A=="
        }
      }
    }
""")


def test_package_lock_v2_reads_packages_not_the_legacy_section() -> None:
    parsed = parse("services/api/package-lock.json", LOCK_V2)
    pkgs = by_name(parsed)
    assert len(parsed.packages) == 2
    assert pkgs["ms"].line == line_of(LOCK_V2, '"node_modules/ms"') and pkgs["ms"].via == ("debug", "api")
    assert pkgs["debug"].direct and pkgs["debug"].path == "services/api/package-lock.json"


LOCK_V1 = dedent("""
    {
      "name": "legacy-app",
      "version": "0.9.0",
      "lockfileVersion": 1,
      "requires": true,
      "dependencies": {
        "accepts": {
          "version": "1.3.7",
          "resolved": "https://registry.npmjs.org/accepts/-/accepts-1.3.7.tgz",
          "integrity": "sha512-Il80Qs2WjYlJIBNzNkK6KYqlVMTbZLXgHx2oT0pU/fjRHyEp+PEfEPY0R3WCwAGVOtauxh1hOxNgIf5bv7dQpA==",
          "requires": {
            "mime-types": "~2.1.24",
            "negotiator": "0.6.2"
          },
          "dependencies": {
            "mime-types": {
              "version": "2.1.24",
              "resolved": "https://registry.npmjs.org/mime-types/-/mime-types-2.1.24.tgz",
              "integrity": "sha512-WaFHS3MCl5fapm3oLxU4eYDw77IQM2ACcxQ9RIxfaC3ooc6PFuBMGZZsYpvoXS5D5QTWPieo1jjLdAm3TBP3cQ==",
              "dev": true
            }
          }
        },
        "mime-types": {
          "version": "2.1.35",
          "resolved": "https://registry.npmjs.org/mime-types/-/mime-types-2.1.35.tgz",
          "integrity": "sha512-ZDY+bPm5zTTF+YpCrAU9nK0UgICYPT0QtT1NZWFv4s++TNkcgVaT0g6+4R2uI4MjQjzysHB1zxuWL50hzaeXiw=="
        },
        "negotiator": {
          "version": "0.6.2",
          "resolved": "https://registry.npmjs.org/negotiator/-/negotiator-0.6.2.tgz",
          "integrity": "sha512-hZXc7K2e+PgeI1eDBe/10Ard4ekbfrrqG8Ep+8Jmf4JID2bNg7NvCPOZN+kfF574pFQI7mum2AUqDidoKqcTOw=="
        },
        "tiny": {
          "version": "git+https://github.com/acme/tiny.git#0f8e2c3b1a7d6e5f4c3b2a1908f7e6d5c4b3a291",
          "from": "git+https://github.com/acme/tiny.git#main"
        }
      }
    }
""")


def test_package_lock_v1_nested_dependencies_and_manifest_roots() -> None:
    manifest = '{"name": "legacy-app", "dependencies": {"accepts": "^1.3.7", "tiny": "acme/tiny#main"}}'
    parsed = parse("package-lock.json", LOCK_V1, {"package.json": manifest})
    pkgs = {(p.name, p.version): p for p in parsed.packages}
    nested = pkgs[("mime-types", "2.1.24")]
    assert nested.line == line_of(LOCK_V1, '"mime-types": {') and nested.via == ("accepts", "legacy-app")
    assert nested.extra["dev"] is True
    assert pkgs[("negotiator", "0.6.2")].via == ("accepts", "legacy-app")
    assert pkgs[("accepts", "1.3.7")].direct
    # nobody requires the hoisted 2.1.35 copy: present in the lock but unreachable from the project
    assert pkgs[("mime-types", "2.1.35")].extra.get("extraneous") is True
    tiny = pkgs[("tiny", None)]
    assert tiny.direct and tiny.spec.startswith("git+https://github.com/acme/tiny.git#0f8e")


def test_npm_shrinkwrap_is_the_same_format() -> None:
    parsed = parse("npm-shrinkwrap.json", LOCK_V2)
    assert {p.name for p in parsed.packages} == {"debug", "ms"}


YARN_CLASSIC = dedent('''
    # THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
    # yarn lockfile v1


    "@babel/code-frame@^7.0.0", "@babel/code-frame@^7.22.13":
      version "7.22.13"
      resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.22.13.tgz#e3c1c099402598483b7a8c46a721d1038803755e"
      integrity sha512-XktuhWlJ5g+3TJXc5upd9Ks1HutSArik6jf2eAjYFdIOS8nvdC1Pd8rmk+e+CfbqulLMu5/WaIGm9hbxV5nAoUQ==
      dependencies:
        "@babel/highlight" "^7.22.13"
        chalk "^2.4.2"

    "@babel/highlight@^7.22.13":
      version "7.22.20"
      resolved "https://registry.yarnpkg.com/@babel/highlight/-/highlight-7.22.20.tgz#4ca92b71d80554b01427815e06f2df965b9c1f54"
      integrity sha512-dkdMCN3py0+ksCgYmGG8jKeGA/8Tk+gJwSYYlFGxG5lmhfKNoAy004YpLxpS1W2J8m/EK2Ew+yOs9pVRwO89mg==
      dependencies:
        chalk "^2.4.2"

    chalk@^2.4.2:
      version "2.4.2"
      resolved "https://registry.yarnpkg.com/chalk/-/chalk-2.4.2.tgz#cd42541677a54333cf541a49108c1432b44c9424"
      integrity sha512-Mti+f9lpJNcwF4tWV8/OrTTtF1gZi+f8FqlyAdouralcFWFQWF2+NgCHShjkCb+IFBLq9buZwE1xckQU4peSuw==
      dependencies:
        ansi-styles "^3.2.1"

    ansi-styles@^3.2.1:
      version "3.2.1"
      resolved "https://registry.yarnpkg.com/ansi-styles/-/ansi-styles-3.2.1.tgz#41fbb20243e50b12be0f04b8dedbf07520ce841d"
      integrity sha512-VT0ZI6kZRdTh8YyJw3SMbYm/u+NqfsAxEpWO0Pf9sq8/e94WxxOpPKx9FR1FlyCtOVDNOQ+8ntlqFxiRc+r5qA==

    jest@^29.7.0:
      version "29.7.0"
      resolved "https://registry.yarnpkg.com/jest/-/jest-29.7.0.tgz#f4d6a71d7a2e7cd4ec9e0a6ec0b1fa7a2f5b4b0c"
      integrity sha512-NIy3oAFp9shda19hy4HK0HRTWKtPJmGdnvywu01nOqNC2vZg+Z+fvJDxpMQA88eb2I9EcafcdjYgsDthnYTvGw==

    "left-pad@github:stevemao/left-pad":
      version "1.3.0"
      resolved "https://codeload.github.com/stevemao/left-pad/tar.gz/5b5b7f8e2c8fd4d2d5b19a3d23d1c5b2a0f0a8e1"
''')


def test_yarn_classic_entries_graph_and_registry() -> None:
    manifest = ('{"name": "web", "dependencies": {"@babel/code-frame": "^7.22.13", '
                '"left-pad": "github:stevemao/left-pad"}, "devDependencies": {"jest": "^29.7.0"}}')
    parsed = parse("yarn.lock", YARN_CLASSIC, {"package.json": manifest})
    pkgs = by_name(parsed)
    frame = pkgs["@babel/code-frame"]
    assert frame.version == "7.22.13" and frame.direct
    assert frame.line == line_of(YARN_CLASSIC, '"@babel/code-frame@^7.0.0"')
    assert frame.integrity.startswith("sha512-XktuhWlJ")
    assert pkgs["chalk"].via == ("@babel/code-frame", "web") and not pkgs["chalk"].direct
    assert pkgs["ansi-styles"].via == ("chalk", "@babel/code-frame", "web")
    assert pkgs["ansi-styles"].line == line_of(YARN_CLASSIC, "ansi-styles@^3.2.1:")
    assert pkgs["jest"].direct
    assert pkgs["left-pad"].source.startswith("https://codeload.github.com/stevemao/left-pad/")
    assert {s.value for s in parsed.settings} == {"https://registry.yarnpkg.com", "https://codeload.github.com"}


YARN_BERRY = dedent('''
    # This file is generated by running "yarn install" inside your project.
    # Manual changes might be lost - proceed with caution!

    __metadata:
      version: 8
      cacheKey: 10c0

    "debug@npm:4.3.4, debug@npm:^4.3.4":
      version: 4.3.4
      resolution: "debug@npm:4.3.4"
      dependencies:
        ms: "npm:2.1.2"
      peerDependenciesMeta:
        supports-color:
          optional: true
      checksum: 10c0/cedbec45298dd5c501d01b92b119cd3faebe5438c3917ff11ae1bff86a6c722930ac9c8659792824013168ba6db7c4668225d845c633fbdafbbf902a6389f736
      languageName: node
      linkType: hard

    "ms@npm:2.1.2":
      version: 2.1.2
      resolution: "ms@npm:2.1.2"
      checksum: 10c0/a437714e2f90dbf881b5191d35a6db792efbca5badf112f87b9e1c712aace4b4b9b742dd6537f3edf90fd6f684de897cec230abde57e87883766712ddda297cc
      languageName: node
      linkType: hard

    "shop@workspace:.":
      version: 0.0.0-use.local
      resolution: "shop@workspace:."
      dependencies:
        debug: "npm:^4.3.4"
        tiny: "https://github.com/acme/tiny.git#commit=0f8e2c3b1a7d6e5f4c3b2a1908f7e6d5c4b3a291"
      languageName: unknown
      linkType: soft

    "tiny@https://github.com/acme/tiny.git#commit=0f8e2c3b1a7d6e5f4c3b2a1908f7e6d5c4b3a291":
      version: 1.2.0
      resolution: "tiny@https://github.com/acme/tiny.git#commit=0f8e2c3b1a7d6e5f4c3b2a1908f7e6d5c4b3a291"
      checksum: 10c0/0a1b2c3d4e5f
      languageName: node
      linkType: hard
''')


def test_yarn_berry_workspace_roots_and_checksums() -> None:
    parsed = parse("yarn.lock", YARN_BERRY)
    pkgs = by_name(parsed)
    assert set(pkgs) == {"debug", "ms", "tiny"}
    assert pkgs["debug"].direct and pkgs["debug"].version == "4.3.4"
    assert pkgs["debug"].line == line_of(YARN_BERRY, '"debug@npm:4.3.4, debug@npm:^4.3.4":')
    assert pkgs["ms"].via == ("debug", "shop") and pkgs["ms"].integrity.startswith("10c0/a437")
    assert pkgs["tiny"].direct and pkgs["tiny"].source.startswith("https://github.com/acme/tiny.git#commit=")


PNPM_V6 = dedent("""
    lockfileVersion: '6.0'

    settings:
      autoInstallPeers: true
      excludeLinksFromLockfile: false

    dependencies:
      react-dom:
        specifier: ^18.2.0
        version: 18.2.0(react@18.2.0)
      react:
        specifier: ^18.2.0
        version: 18.2.0

    devDependencies:
      typescript:
        specifier: ^5.3.3
        version: 5.3.3

    packages:

      /js-tokens@4.0.0:
        resolution: {integrity: sha512-RdJUflcE3cUzKiMqQgsCu06FPu9UdIJO0beYbPhHN4k6apgJtifcoCtT9bcxOpYBtpD2kCM6Sbzg4CausW/PKQ==}
        dev: false

      /loose-envify@1.4.0:
        resolution: {integrity: sha512-lyuxPGr/Wfhrlem2CL/UcnUc1zcqKAImBDzukY7Y5F/yQiNdko6+fRLevlw1HgMySw7f611UIY408EtxRSoK3Q==}
        hasBin: true
        dependencies:
          js-tokens: 4.0.0
        dev: false

      /react-dom@18.2.0(react@18.2.0):
        resolution: {integrity: sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==}
        peerDependencies:
          react: ^18.2.0
        dependencies:
          loose-envify: 1.4.0
          react: 18.2.0
          scheduler: 0.23.0
        dev: false

      /react@18.2.0:
        resolution: {integrity: sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==}
        engines: {node: '>=0.10.0'}
        dependencies:
          loose-envify: 1.4.0
        dev: false

      /scheduler@0.23.0:
        resolution: {integrity: sha512-CtuThmgHNg7zIZWAXi3AsyIzA3n4xx7aNyjwC2VJldO2LMVDhFK+63xGqq6CxJDJ8Es2SkRNY8uR/y6GlsfE/A==}
        dependencies:
          loose-envify: 1.4.0
        dev: false

      /typescript@5.3.3:
        resolution: {integrity: sha512-pXWcraxM0uxAS+tN0AG/BF2TyqmHO014Z070UsJ+pFvYuRSq8KH8DmWpnbXe0pEPDHXZV3FcAbJkijJ5oNEnWw==}
        engines: {node: '>=14.17'}
        hasBin: true
        dev: true
""")


def test_pnpm_v6_importer_graph_peer_suffixes_and_dev() -> None:
    parsed = parse("pnpm-lock.yaml", PNPM_V6, {"package.json": '{"name": "dashboard"}'})
    pkgs = by_name(parsed)
    assert set(pkgs) == {"js-tokens", "loose-envify", "react-dom", "react", "scheduler", "typescript"}
    assert pkgs["react-dom"].direct and pkgs["react-dom"].version == "18.2.0"
    assert pkgs["react-dom"].line == line_of(PNPM_V6, "/react-dom@18.2.0(react@18.2.0):")
    assert pkgs["loose-envify"].via in (("react", "dashboard"), ("react-dom", "dashboard"))
    assert pkgs["js-tokens"].via[0] == "loose-envify" and len(pkgs["js-tokens"].via) == 3
    assert pkgs["scheduler"].via == ("react-dom", "dashboard")
    assert pkgs["typescript"].extra["dev"] is True
    assert pkgs["react"].integrity.startswith("sha512-/3IjMdb2")


PNPM_V9 = dedent("""
    lockfileVersion: '9.0'

    settings:
      autoInstallPeers: true
      excludeLinksFromLockfile: false

    importers:

      .:
        dependencies:
          axios:
            specifier: ^1.6.0
            version: 1.6.0
        devDependencies:
          vitest:
            specifier: ^1.0.0
            version: 1.0.4

      packages/cli:
        dependencies:
          '@acme/core':
            specifier: workspace:*
            version: link:../core
          commander:
            specifier: ^11.1.0
            version: 11.1.0

    packages:

      '@acme/logger@2.0.1':
        resolution: {integrity: sha512-aaaa, tarball: https://npm.acme.example/@acme/logger/-/logger-2.0.1.tgz}

      axios@1.6.0:
        resolution: {integrity: sha512-EZ1DYihju9pwVB+jg67ogm+Tmqc6JmhamRN6I4Zt8DfZu5lbcQGw3ozH9lFejSJgs/ibaef3A9PMXPLeefFGJg==}

      commander@11.1.0:
        resolution: {integrity: sha512-yPVavfyCcRhmorC7rWlkHn15b4wDVgVmBA7kV4QVBsF7kv/9TKJAbAXVTxvTnwP8HHKjRCJDClKbciiYS7p0DQ==}
        engines: {node: '>=16'}

      follow-redirects@1.15.3:
        resolution: {integrity: sha512-1VzOtuEM8pC9SFU1E+8KfTjZyMztRsgEfwQl44z8A25uy13jSzTj6dyK2Df52iV0vgHCfBwLhDWevLn95w5v6Q==}
        engines: {node: '>=4.0'}

      vitest@1.0.4:
        resolution: {integrity: sha512-s1GQHp/UOeWEo4+aXDOeFBJwFzL6mjycbQwwKWX2QcYfh/7tIerS59hWQ20mxzupTJluA2SdwiBuWwQHH67ckg==}
        engines: {node: ^18.0.0 || >=20.0.0}

    snapshots:

      '@acme/logger@2.0.1': {}

      axios@1.6.0:
        dependencies:
          follow-redirects: 1.15.3
          logger: '@acme/logger@2.0.1'

      commander@11.1.0: {}

      follow-redirects@1.15.3: {}

      vitest@1.0.4: {}
""")


def test_pnpm_v9_importers_snapshots_aliases_and_registry() -> None:
    parsed = parse("pnpm-lock.yaml", PNPM_V9)
    pkgs = by_name(parsed)
    assert pkgs["axios"].direct and pkgs["commander"].direct and pkgs["vitest"].direct
    assert pkgs["vitest"].extra["dev"] is True
    assert pkgs["commander"].line == line_of(PNPM_V9, "  commander@11.1.0:")
    assert pkgs["follow-redirects"].via == ("axios",)  # the root importer has no name without a package.json
    assert pkgs["@acme/logger"].via == ("axios",)
    assert pkgs["@acme/logger"].line == line_of(PNPM_V9, "'@acme/logger@2.0.1':")
    assert pkgs["@acme/logger"].source == "https://npm.acme.example/@acme/logger/-/logger-2.0.1.tgz"
    assert [s.value for s in parsed.settings] == ["https://npm.acme.example"]


BUN_LOCK = dedent("""
    {
      "lockfileVersion": 1,
      "workspaces": {
        "": {
          "name": "edge-app",
          "dependencies": {
            "hono": "^4.0.0",
            "react": "^18.3.0",
          },
          "devDependencies": {
            "typescript": "^5.4.0",
          },
        },
      },
      "packages": {
        "hono": ["hono@4.0.5", "", {}, "sha512-7GLD2gBsd3fWNx1/bJTZMKDW3kBGBVbJhm6hZ/NfO4Hl1GVRFlQEg7MhpG1qSgeNlGq7wWy6DEMU2y6lbcHtbA=="],

        "js-tokens": ["js-tokens@4.0.0", "", {}, "sha512-RdJUflcE3cUzKiMqQgsCu06FPu9UdIJO0beYbPhHN4k6apgJtifcoCtT9bcxOpYBtpD2kCM6Sbzg4CausW/PKQ=="],

        "loose-envify": ["loose-envify@1.4.0", "", { "dependencies": { "js-tokens": "^3.0.0 || ^4.0.0" }, "bin": { "loose-envify": "cli.js" } }, "sha512-lyuxPGr/Wfhrlem2CL/UcnUc1zcqKAImBDzukY7Y5F/yQiNdko6+fRLevlw1HgMySw7f611UIY408EtxRSoK3Q=="],

        "react": ["react@18.3.1", "", { "dependencies": { "js-tokens": "^3.0.0", "loose-envify": "^1.1.0" } }, "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ=="],

        "react/js-tokens": ["js-tokens@3.0.2", "https://npm.mirror.example/", {}, "sha512-bbbb"],

        "typescript": ["typescript@5.4.5", "", { "bin": { "tsc": "bin/tsc", "tsserver": "bin/tsserver" } }, "sha512-vcI4UpRgg81oIRUFwR0WSIHKt11nJ7SAVlYNIu+QpqeyXP+gpQJy/Z4+F0aGxSE4MqwjyXvW/TzgkLAx2AGHwQ=="],
      }
    }
""")


def test_bun_lock_jsonc_nested_copies_and_workspace_roots() -> None:
    parsed = parse("bun.lock", BUN_LOCK)
    pkgs = {(p.name, p.version): p for p in parsed.packages}
    assert pkgs[("hono", "4.0.5")].direct and pkgs[("typescript", "5.4.5")].extra["dev"] is True
    assert pkgs[("loose-envify", "1.4.0")].via == ("react", "edge-app")
    nested = pkgs[("js-tokens", "3.0.2")]
    assert nested.line == line_of(BUN_LOCK, '"react/js-tokens"')
    assert nested.via == ("react", "edge-app") and nested.source == "https://npm.mirror.example/"
    assert pkgs[("js-tokens", "4.0.0")].via == ("loose-envify", "react", "edge-app")
    assert pkgs[("react", "18.3.1")].integrity.startswith("sha512-wS+hAg")
    assert [s.value for s in parsed.settings] == ["https://npm.mirror.example"]


@pytest.mark.parametrize(("path", "text", "line"), [
    ("package-lock.json", '{\n  "lockfileVersion": 3,\n  "packages": {\n    "": {,\n  }\n}\n', 4),
    ("package-lock.json", '{"lockfileVersion": 9, "packages": {}}', None),
    ("package-lock.json", "[" * 100_000 + "]" * 100_000, None),
    ("package.json", '{"dependencies": {"a": 1}}', 1),
    ("yarn.lock", "# yarn lockfile v1\n\nleft-pad@^1.0.0\n  version \"1.3.0\"\n", 3),
    ("yarn.lock", "__metadata:\n  version: 8\n\"a@npm:1\": [unclosed\n", 4),
    ("pnpm-lock.yaml", "lockfileVersion: '9.0'\npackages:\n  a@1.0.0: {resolution: {integrity: x}\n", None),
    ("pnpm-lock.yaml", "importers: {}\n", None),
    ("pnpm-lock.yaml", "lockfileVersion: '9.0'\nx: &a {k: v}\nsnapshots:\n  p@1.0.0:\n    dependencies: *a\n", 2),
    ("bun.lock", '{\n  "lockfileVersion": 1,\n  "packages": {\n    "a": "a@1.0.0",\n  }\n}\n', 4),
])
def test_malformed_npm_files_raise_parse_errors(path: str, text: str, line: int | None) -> None:
    with pytest.raises(ParseError) as err:
        parse(path, text)
    if line is not None:
        assert err.value.line == line


def test_large_lockfile_every_line_points_at_its_own_entry() -> None:
    """1,000 seeded entries with nested copies: each package's line is the line of its own key."""
    import json
    import random

    rng = random.Random(7)
    names = [f"pkg-{i:04d}" for i in range(1000)]
    packages: dict[str, dict] = {"": {"name": "big", "dependencies": {n: "^1" for n in names[:25]}}}
    for i, name in enumerate(names):
        key = f"node_modules/{names[i // 3]}/node_modules/{name}" if i % 7 == 6 else f"node_modules/{name}"
        deps = {d: "^1" for d in rng.sample(names, 3)}
        packages[key] = {"version": f"1.0.{i}", "dependencies": deps, "engines": {"node": ">=18"}}
    text = json.dumps({"name": "big", "lockfileVersion": 3, "packages": packages}, indent=2)
    parsed = parse("package-lock.json", text)
    assert len(parsed.packages) == 1000
    rows = text.splitlines()
    for p in parsed.packages:
        row = rows[p.line - 1]
        assert row.strip().startswith('"node_modules/') and row.split('"')[1].endswith(f"/{p.name}")
        assert f'"version": "{p.version}"' in rows[p.line]
