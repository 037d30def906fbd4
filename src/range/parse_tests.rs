//! Unit tests of the pure parsers, on literal OS output.

use super::*;

/// Hostile inputs every parser must reject or survive without panicking.
fn hostile() -> Vec<String> {
    vec![
        String::new(),
        "\n".into(),
        "\0".into(),
        "32768\0\t60999\n".into(),
        "١٢٣\t٤٥٦".into(), // Arabic-Indic digits are not ASCII digits
        "３２７６８ ６０９９９".into(),
        "😀-😀".into(),
        "-".into(),
        ":".into(),
        "=".into(),
        "*".into(),
        "9".repeat(100_000),
        format!("1-{}", "9".repeat(50)),
        "1,".repeat(50_000),
        "x".repeat(1_000_000),
        "é".repeat(10_000) + ": 5",
        "+1\t+2".into(),
        "-1 -2".into(),
        "0x10 0x20".into(),
    ]
}

fn one_line(e: &RangeError) -> String {
    let m = e.to_string();
    assert!(!m.contains('\n') && !m.contains('\0'), "multi-line: {m:?}");
    assert!(m.chars().count() < 300, "too long: {m:?}");
    m
}

#[test]
fn no_parser_panics_or_prints_multiline_errors_on_hostile_input() {
    for h in hostile() {
        for r in [
            parse_linux_port_range(&h),
            parse_range_arg(&h),
            parse_sysctl_portrange(&h),
            parse_netsh_dynamicport(&h),
        ] {
            if let Err(e) = r {
                one_line(&e);
            }
        }
        for r in [parse_reserved_ports(&h), parse_netsh_excluded(&h)] {
            if let Err(e) = r {
                one_line(&e);
            }
        }
    }
}

// --- /proc/sys/net/ipv4/ip_local_port_range -------------------------------------

#[test]
fn linux_range_default_text() {
    assert_eq!(
        parse_linux_port_range("32768\t60999\n").unwrap(),
        (32768, 60999)
    );
}

#[test]
fn linux_range_spaces_crlf_and_no_newline() {
    assert_eq!(parse_linux_port_range("1024 65000").unwrap(), (1024, 65000));
    assert_eq!(
        parse_linux_port_range("  1024   65000  \r\n").unwrap(),
        (1024, 65000)
    );
}

#[test]
fn linux_range_boundaries() {
    assert_eq!(parse_linux_port_range("1\t65535\n").unwrap(), (1, 65535));
    assert_eq!(
        parse_linux_port_range("40000\t40000\n").unwrap(),
        (40000, 40000)
    );
    for bad in [
        "0\t60999\n",
        "32768\t65536\n",
        "65536\t65536\n",
        "32768\t99999999999999999999\n",
    ] {
        let e = parse_linux_port_range(bad).unwrap_err();
        assert!(
            matches!(e, RangeError::PortOutOfRange { .. }),
            "{bad:?}: {e}"
        );
    }
}

#[test]
fn linux_range_rejects_wrong_shapes() {
    assert!(matches!(
        parse_linux_port_range(""),
        Err(RangeError::Empty { .. })
    ));
    assert!(matches!(
        parse_linux_port_range(" \n"),
        Err(RangeError::Empty { .. })
    ));
    for bad in [
        "32768\n",
        "1 2 3\n",
        "abc def\n",
        "32768-60999\n",
        "32768,60999",
    ] {
        assert!(parse_linux_port_range(bad).is_err(), "{bad:?}");
    }
    let e = parse_linux_port_range("60999\t32768\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "range 60999-32768: low port is above high port"
    );
}

// --- ip_local_reserved_ports and --reserved --------------------------------------

#[test]
fn reserved_kernel_text_merges() {
    assert_eq!(
        parse_reserved_ports("1-4,10,40002,40005-40007\n").unwrap(),
        vec![(1, 4), (10, 10), (40002, 40002), (40005, 40007)]
    );
    // Overlapping and adjacent items merge.
    assert_eq!(
        parse_reserved_ports("5,1-4,3,40000-40010,40011").unwrap(),
        vec![(1, 5), (40000, 40011)]
    );
}

#[test]
fn reserved_empty_means_none() {
    assert_eq!(parse_reserved_ports("\n").unwrap(), vec![]);
    assert_eq!(parse_reserved_ports("").unwrap(), vec![]);
    assert_eq!(parse_reserved_ports("  \r\n").unwrap(), vec![]);
}

#[test]
fn reserved_cli_spacing_and_crlf() {
    assert_eq!(
        parse_reserved_ports("8080, 9000-9002 , 1\r\n").unwrap(),
        vec![(1, 1), (8080, 8080), (9000, 9002)]
    );
}

#[test]
fn reserved_boundaries() {
    assert_eq!(
        parse_reserved_ports("1,65535").unwrap(),
        vec![(1, 1), (65535, 65535)]
    );
    assert_eq!(parse_reserved_ports("1-65535").unwrap(), vec![(1, 65535)]);
    for bad in ["0", "0-5", "65536", "1-65536", "99999999999999999999"] {
        let e = parse_reserved_ports(bad).unwrap_err();
        assert!(
            matches!(e, RangeError::PortOutOfRange { .. }),
            "{bad:?}: {e}"
        );
    }
}

#[test]
fn reserved_rejects_bad_items() {
    let e = parse_reserved_ports("5-3").unwrap_err();
    assert_eq!(e.to_string(), "range 5-3: low port is above high port");
    for bad in [
        "1,,2", ",1", "1,", "abc", "1-", "-5", "1-2-3", "1;2", "1 2", "+5", "1-x",
    ] {
        assert!(parse_reserved_ports(bad).is_err(), "{bad:?}");
    }
    let e = parse_reserved_ports("1,,2").unwrap_err();
    assert!(one_line(&e).contains("empty item"), "{e}");
}

// --- --range LO-HI ---------------------------------------------------------------

#[test]
fn range_arg_accepts_lo_hi() {
    assert_eq!(parse_range_arg("40000-40099").unwrap(), (40000, 40099));
    assert_eq!(parse_range_arg(" 1-65535 ").unwrap(), (1, 65535));
    assert_eq!(parse_range_arg("7-7").unwrap(), (7, 7));
}

#[test]
fn range_arg_errors_are_clear() {
    assert_eq!(
        parse_range_arg("5-3").unwrap_err().to_string(),
        "range 5-3: low port is above high port"
    );
    let e = parse_range_arg("abc").unwrap_err();
    assert!(one_line(&e).contains("LO-HI"), "{e}");
    for bad in [
        "0-10", "10-65536", "", "40000", "40000-", "-40000", "a-b", "1-2-3",
    ] {
        assert!(parse_range_arg(bad).is_err(), "{bad:?}");
    }
    let e = parse_range_arg("0-10").unwrap_err();
    assert!(one_line(&e).contains("1-65535"), "{e}");
}

// --- sysctl net.inet.ip.portrange -------------------------------------------------

#[test]
fn sysctl_named_form() {
    let macos = "net.inet.ip.portrange.first: 49152\nnet.inet.ip.portrange.last: 65535\n";
    assert_eq!(parse_sysctl_portrange(macos).unwrap(), (49152, 65535));
    let freebsd = "net.inet.ip.portrange.first: 10000\nnet.inet.ip.portrange.last: 65535\n";
    assert_eq!(parse_sysctl_portrange(freebsd).unwrap(), (10000, 65535));
    let swapped_order = "net.inet.ip.portrange.last: 65535\nnet.inet.ip.portrange.first: 49152";
    assert_eq!(
        parse_sysctl_portrange(swapped_order).unwrap(),
        (49152, 65535)
    );
}

#[test]
fn sysctl_bare_and_equals_forms_and_crlf() {
    assert_eq!(
        parse_sysctl_portrange("49152\n65535\n").unwrap(),
        (49152, 65535)
    );
    assert_eq!(
        parse_sysctl_portrange("49152\r\n65535\r\n").unwrap(),
        (49152, 65535)
    );
    let eq = "net.inet.ip.portrange.first=49152\nnet.inet.ip.portrange.last=65535\n";
    assert_eq!(parse_sysctl_portrange(eq).unwrap(), (49152, 65535));
}

#[test]
fn sysctl_full_listing_picks_first_and_last() {
    let full = "net.inet.ip.portrange.lowfirst: 1023\n\
                net.inet.ip.portrange.lowlast: 600\n\
                net.inet.ip.portrange.first: 10000\n\
                net.inet.ip.portrange.last: 65535\n\
                net.inet.ip.portrange.hifirst: 49152\n\
                net.inet.ip.portrange.hilast: 65535\n\
                net.inet.ip.portrange.reservedhigh: 1023\n";
    assert_eq!(parse_sysctl_portrange(full).unwrap(), (10000, 65535));
}

#[test]
fn sysctl_first_above_last_is_normalized() {
    // Both kernels accept it and hand out the ports between the two.
    assert_eq!(
        parse_sysctl_portrange("65000\n50000\n").unwrap(),
        (50000, 65000)
    );
}

#[test]
fn sysctl_rejects_bad_text() {
    assert!(matches!(
        parse_sysctl_portrange(""),
        Err(RangeError::Empty { .. })
    ));
    let bad = [
        "49152\n",
        "1\n2\n3\n",
        "net.inet.ip.portrange.first: 49152\n",
        "net.inet.ip.portrange.first: 49152\n65535\n",
        "net.inet.ip.portrange.first: x\nnet.inet.ip.portrange.last: 65535\n",
        "net.inet.ip.portrange.first: 1\nnet.inet.ip.portrange.first: 2\nnet.inet.ip.portrange.last: 3\n",
        "sysctl: unknown oid 'net.inet.ip.portrange.first'\n",
        "0\n65535\n",
        "49152\n65536\n",
    ];
    for b in bad {
        assert!(parse_sysctl_portrange(b).is_err(), "{b:?}");
    }
    assert_eq!(parse_sysctl_portrange("1\n65535\n").unwrap(), (1, 65535));
}

// --- netsh int ipv4 show dynamicport tcp ------------------------------------------

const NETSH_DYNAMIC_EN: &str = "\r\nProtocol tcp Dynamic Port Range\r\n\
---------------------------------\r\n\
Start Port      : 49152\r\n\
Number of Ports : 16384\r\n\r\n";

const NETSH_DYNAMIC_DE: &str = "\r\nProtokoll tcp Dynamischer Portbereich\r\n\
---------------------------------\r\n\
Startport       : 49152\r\n\
Anzahl der Ports : 16384\r\n\r\n";

const NETSH_DYNAMIC_FR: &str = "\r\nPlage de ports dynamique du protocole tcp\r\n\
---------------------------------\r\n\
Port de démarrage   : 10000\r\n\
Nombre de ports     : 1000\r\n\r\n";

#[test]
fn netsh_dynamic_default_and_localized() {
    assert_eq!(
        parse_netsh_dynamicport(NETSH_DYNAMIC_EN).unwrap(),
        (49152, 65535)
    );
    assert_eq!(
        parse_netsh_dynamicport(NETSH_DYNAMIC_DE).unwrap(),
        (49152, 65535)
    );
    assert_eq!(
        parse_netsh_dynamicport(NETSH_DYNAMIC_FR).unwrap(),
        (10000, 10999)
    );
    let lf = NETSH_DYNAMIC_EN.replace("\r\n", "\n");
    assert_eq!(parse_netsh_dynamicport(&lf).unwrap(), (49152, 65535));
    let ja = "開始ポート      ：49152\r\nポート数        ：16384\r\n";
    assert_eq!(parse_netsh_dynamicport(ja).unwrap(), (49152, 65535));
}

#[test]
fn netsh_dynamic_xp_style_and_boundaries() {
    let xp = "Start Port      : 1025\r\nNumber of Ports : 3976\r\n";
    assert_eq!(parse_netsh_dynamicport(xp).unwrap(), (1025, 5000));
    let all = "Start Port : 1\r\nNumber of Ports : 65535\r\n";
    assert_eq!(parse_netsh_dynamicport(all).unwrap(), (1, 65535));
    let one = "Start Port : 65535\r\nNumber of Ports : 1\r\n";
    assert_eq!(parse_netsh_dynamicport(one).unwrap(), (65535, 65535));
}

#[test]
fn netsh_dynamic_rejects_bad_values() {
    let cases = [
        "Start Port : 49152\r\nNumber of Ports : 0\r\n",
        "Start Port : 49152\r\nNumber of Ports : 16385\r\n",
        "Start Port : 1\r\nNumber of Ports : 65536\r\n",
        "Start Port : 0\r\nNumber of Ports : 10\r\n",
        "Start Port : 65536\r\nNumber of Ports : 1\r\n",
        "Start Port : 49152\r\nNumber of Ports : 99999999999999999999999\r\n",
        "Start Port : 49152\r\n",
        "Protocol tcp Dynamic Port Range\r\n-----\r\n",
        "The following command was not found: int ipv4 show dynamicport tcp.\r\n",
        "",
    ];
    for c in cases {
        let e = parse_netsh_dynamicport(c).unwrap_err();
        one_line(&e);
    }
    let e = parse_netsh_dynamicport("Start Port : 65000\r\nNumber of Ports : 1000\r\n");
    assert!(e.unwrap_err().to_string().contains("past 65535"));
}

// --- netsh int ipv4 show excludedportrange protocol=tcp ---------------------------

const NETSH_EXCLUDED_EN: &str = "\r\nProtocol tcp Port Exclusion Ranges\r\n\r\n\
Start Port    End Port\r\n\
----------    --------\r\n\
      1025        1025\r\n\
     50000       50059     *\r\n\
     50060       50159\r\n\r\n\
* - Administered port exclusions.\r\n\r\n";

const NETSH_EXCLUDED_DE: &str = "\r\nPortausschlussbereiche für das Protokoll tcp\r\n\r\n\
Startport    Endport\r\n\
----------    --------\r\n\
      5357        5357\r\n\
     49709       49808\r\n\r\n\
* - Verwaltete Portausschlüsse.\r\n\r\n";

const NETSH_EXCLUDED_EMPTY: &str = "\r\nProtocol tcp Port Exclusion Ranges\r\n\r\n\
Start Port    End Port\r\n\
----------    --------\r\n\r\n\
* - Administered port exclusions.\r\n\r\n";

#[test]
fn netsh_excluded_default_and_localized() {
    assert_eq!(
        parse_netsh_excluded(NETSH_EXCLUDED_EN).unwrap(),
        vec![(1025, 1025), (50000, 50159)]
    );
    assert_eq!(
        parse_netsh_excluded(NETSH_EXCLUDED_DE).unwrap(),
        vec![(5357, 5357), (49709, 49808)]
    );
    let lf = NETSH_EXCLUDED_EN.replace("\r\n", "\n");
    assert_eq!(parse_netsh_excluded(&lf).unwrap().len(), 2);
}

#[test]
fn netsh_excluded_empty_table() {
    assert_eq!(parse_netsh_excluded(NETSH_EXCLUDED_EMPTY).unwrap(), vec![]);
}

#[test]
fn netsh_excluded_boundaries() {
    let t = "----  ----\r\n1 1\r\n65535 65535 *\r\n";
    assert_eq!(
        parse_netsh_excluded(t).unwrap(),
        vec![(1, 1), (65535, 65535)]
    );
    for bad in [
        "----\r\n0 5\r\n",
        "----\r\n5 65536\r\n",
        "----\r\n50 40\r\n",
    ] {
        assert!(parse_netsh_excluded(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn netsh_excluded_rejects_text_without_a_table() {
    for bad in [
        "",
        "\r\n",
        "garbage",
        "1025 1025\r\n",
        "* - Administered port exclusions.",
    ] {
        assert!(parse_netsh_excluded(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn netsh_excluded_skips_rows_of_other_shapes() {
    let t = "----\r\n1025 1025 x\r\n1 2 3\r\n7 8 *\r\nabc def\r\n";
    assert_eq!(parse_netsh_excluded(t).unwrap(), vec![(7, 8)]);
}

#[test]
fn snippet_is_short_escaped_and_char_safe() {
    let s = snippet(&"é\0\n".repeat(100));
    assert!(!s.contains('\n') && !s.contains('\0'));
    assert!(s.ends_with("…\""));
    assert_eq!(snippet("ab"), "\"ab\"");
}

#[test]
fn out_of_range_numbers_are_quoted_short() {
    let e = parse_range_arg("1-70000").unwrap_err();
    assert_eq!(
        e.to_string(),
        "--range: port 70000 is out of range (ports are 1-65535)"
    );
    let e = parse_linux_port_range(&format!("1 {}", "9".repeat(1000))).unwrap_err();
    assert!(
        e.to_string().contains("port 999999999999… is out of range"),
        "{e}"
    );
}
