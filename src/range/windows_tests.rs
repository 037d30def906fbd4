use super::*;

fn range(version: WindowsVersion, value: Option<u32>) -> (u16, u16) {
    let d = derive(version, value, None).unwrap();
    (d.low, d.high)
}

fn refused(version: WindowsVersion, value: u32) -> String {
    derive(version, Some(value), None).unwrap_err().to_string()
}

#[test]
fn row_nt_ending_port_default_1025_5000_valid_5000_65535() {
    let v = WindowsVersion::Nt;
    assert_eq!(range(v, None), (1025, 5000));
    assert_eq!(range(v, Some(5000)), (1025, 5000));
    assert_eq!(range(v, Some(20000)), (1025, 20000));
    assert_eq!(range(v, Some(65535)), (1025, 65535));
    let e = refused(v, 4999);
    assert_eq!(
        e,
        "--maxuserport: 4999 is not valid on Windows NT / 2000 / XP / Server 2003 \
         (--windows nt), where MaxUserPort is the ending port (5000-65535)"
    );
    assert!(refused(v, 65536).contains("5000-65535"));
    let d = derive(v, Some(20000), None).unwrap();
    assert_eq!(
        (d.meaning, d.rule),
        (Meaning::EndingPort, "1025-[MaxUserPort]")
    );
}

#[test]
fn row_nt_kb951748_default_49152_65535_defined_is_still_the_ending_port() {
    let v = WindowsVersion::NtKb951748;
    assert_eq!(range(v, None), (49152, 65535));
    assert_eq!(range(v, Some(60000)), (1025, 60000));
    assert_eq!(range(v, Some(5000)), (1025, 5000));
    assert!(refused(v, 100).contains("(--windows nt-kb951748)"));
    assert_eq!(derive(v, None, None).unwrap().rule, "not defined");
}

#[test]
fn row_vista_number_of_ports_from_49152_valid_255_16384() {
    let v = WindowsVersion::Vista;
    assert_eq!(range(v, None), (49152, 65535));
    assert_eq!(range(v, Some(255)), (49152, 49406));
    assert_eq!(range(v, Some(1000)), (49152, 50151));
    assert_eq!(range(v, Some(16384)), (49152, 65535));
    for bad in [0, 254, 16385, 60000, 65535] {
        let e = refused(v, bad);
        assert!(
            e.contains("number of ports (255-16384)") && e.contains("--windows vista"),
            "{e}"
        );
    }
    let d = derive(v, Some(1000), None).unwrap();
    assert_eq!(d.meaning, Meaning::NumberOfPorts);
    assert_eq!(d.rule, "49152-[49152 + MaxUserPort - 1]");
}

#[test]
fn vista_start_plus_num_minus_one_past_65535_is_refused() {
    assert_eq!(dynamic_range(49152, 16384).unwrap(), (49152, 65535));
    assert_eq!(dynamic_range(1025, 64511).unwrap(), (1025, 65535));
    let e = dynamic_range(49152, 16385).unwrap_err().to_string();
    assert_eq!(
        e,
        "netsh dynamicport: start=49152 num=16385 ends at 65536, past 65535 \
         (start + num - 1 must be <= 65535)"
    );
    assert!(dynamic_range(60000, 6000).is_err());
    assert!(dynamic_range(u32::MAX, u32::MAX).is_err());
    assert!(dynamic_range(1024, 1000)
        .unwrap_err()
        .to_string()
        .contains("below 1025"));
    assert!(dynamic_range(40000, 254)
        .unwrap_err()
        .to_string()
        .contains("below 255"));
}

#[test]
fn app_sbs_sets_60000() {
    let d = derive(WindowsVersion::Nt, None, Some(App::Sbs)).unwrap();
    assert_eq!((d.max_user_port, d.low, d.high), (Some(60000), 1025, 60000));
    assert_eq!(
        d.describe(),
        "Windows NT / 2000 / XP / Server 2003, MaxUserPort 60000 (ending port; set by \
         Small Business Server 2000/2003)"
    );
}

#[test]
fn app_isa_sets_65535_which_covers_1025_65535() {
    let d = derive(WindowsVersion::Nt, None, Some(App::Isa)).unwrap();
    assert_eq!((d.max_user_port, d.low, d.high), (Some(65535), 1025, 65535));
    // Not a valid number of ports on Vista and later.
    let e = derive(WindowsVersion::Vista, None, Some(App::Isa))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("--app isa: sets MaxUserPort 65535, which is not valid on Windows Vista"),
        "{e}"
    );
}

#[test]
fn app_exchange2003_sets_60000() {
    let d = derive(WindowsVersion::NtKb951748, None, Some(App::Exchange2003)).unwrap();
    assert_eq!((d.max_user_port, d.low, d.high), (Some(60000), 1025, 60000));
    assert_eq!(d.app, Some(App::Exchange2003));
}

#[test]
fn app_sbs_exchange_sets_65535() {
    let d = derive(WindowsVersion::Nt, None, Some(App::SbsExchange)).unwrap();
    assert_eq!((d.max_user_port, d.low, d.high), (Some(65535), 1025, 65535));
}

#[test]
fn ids_round_trip_and_value_with_app_is_refused() {
    for v in WindowsVersion::ALL {
        assert_eq!(WindowsVersion::parse(v.id()), Some(v));
        assert_eq!(v.row().version, v);
    }
    for a in App::ALL {
        assert_eq!(App::parse(&a.id().to_uppercase()), Some(a));
    }
    assert_eq!(WindowsVersion::parse("win7"), None);
    assert!(derive(WindowsVersion::Nt, Some(6000), Some(App::Sbs)).is_err());
    let json =
        serde_json::to_value(derive(WindowsVersion::Vista, Some(1000), None).unwrap()).unwrap();
    assert_eq!(json["version"], "vista");
    assert_eq!(json["meaning"], "number_of_ports");
    assert_eq!(json["max_user_port"], 1000);
    assert_eq!(json["high"], 50151);
    assert!(json["assumes"].as_str().unwrap().contains("start 49152"));
    let nt = serde_json::to_value(derive(WindowsVersion::Nt, None, None).unwrap()).unwrap();
    assert!(nt.get("assumes").is_none());
}

// --- reg query, literal output --------------------------------------------------

/// `reg query HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters /v MaxUserPort`
/// on a host where ISA Server set it (65534 = 0xfffe).
const REG_MAXUSERPORT: &str = "\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\r\n    MaxUserPort    REG_DWORD    0xfffe\r\n\r\n";

/// `reg query ...\Tcpip\Parameters` (the whole key): many values, no MaxUserPort.
const REG_KEY_WITHOUT: &str = "
HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters
    NV Hostname    REG_SZ    WIN-HOST
    DataBasePath    REG_EXPAND_SZ    %SystemRoot%\\System32\\drivers\\etc
    NameServer    REG_SZ
    ForwardBroadcasts    REG_DWORD    0x0
    IPEnableRouter    REG_DWORD    0x0
    Domain    REG_SZ
    Hostname    REG_SZ    WIN-HOST
    SearchList    REG_SZ
    UseDomainNameDevolution    REG_DWORD    0x1

HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\Adapters
HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\Interfaces
";

#[test]
fn reg_query_maxuserport_literal_output() {
    assert_eq!(
        parse_reg_query_dword(REG_MAXUSERPORT, "MaxUserPort").unwrap(),
        Some(65534)
    );
    // reg prints the name as stored; the lookup ignores case, as the registry does.
    let lower = REG_MAXUSERPORT.replace("MaxUserPort", "maxuserport");
    assert_eq!(
        parse_reg_query_dword(&lower, "MaxUserPort").unwrap(),
        Some(65534)
    );
    let sbs = "\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\n    MaxUserPort    REG_DWORD    0xea60\n";
    assert_eq!(
        parse_reg_query_dword(sbs, "MaxUserPort").unwrap(),
        Some(60000)
    );
    assert_eq!(
        parse_reg_query_dword(REG_KEY_WITHOUT, "MaxUserPort").unwrap(),
        None
    );
    assert_eq!(
        parse_reg_query_dword(REG_KEY_WITHOUT, "IPEnableRouter").unwrap(),
        Some(0)
    );
}

#[test]
fn reg_query_rejects_other_types_bad_data_and_non_reg_text() {
    let sz = "HKEY_LOCAL_MACHINE\\X\n    MaxUserPort    REG_SZ    60000\n";
    assert_eq!(
        parse_reg_query_dword(sz, "MaxUserPort")
            .unwrap_err()
            .to_string(),
        "reg query MaxUserPort: MaxUserPort is \"REG_SZ\", expected REG_DWORD"
    );
    for data in ["60000", "0x", "0xZZ", "0x123456789", "0x-1"] {
        let t = format!("HKEY_LOCAL_MACHINE\\X\n    MaxUserPort    REG_DWORD    {data}\n");
        let e = parse_reg_query_dword(&t, "MaxUserPort")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a REG_DWORD value"), "{data}: {e}");
    }
    let e = parse_reg_query_dword(
        "ERROR: The system was unable to find the specified registry key or value.\n",
        "MaxUserPort",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("no registry key found") && !e.contains('\n'),
        "{e}"
    );
    assert!(parse_reg_query_dword("", "MaxUserPort").is_err());
    let nul = "HKEY_\0\n MaxUserPort REG_DWORD \0\u{202e}\n";
    assert!(parse_reg_query_dword(nul, "MaxUserPort").is_err());
}

// --- which one is in force on a real host ----------------------------------------

#[test]
fn netsh_is_in_force_and_the_source_says_what_maxuserport_means() {
    let f = in_force(Some((49152, 65535)), None).unwrap();
    assert_eq!((f.low, f.high), (49152, 65535));
    assert_eq!(
        f.source,
        "netsh int ipv4 show dynamicport tcp (MaxUserPort not defined)"
    );
    let f = in_force(Some((49152, 50151)), Some(1000)).unwrap();
    assert!(
        f.source
            .ends_with("MaxUserPort 1000 (number of ports) agrees"),
        "{}",
        f.source
    );
    let f = in_force(Some((49152, 65535)), Some(1000)).unwrap();
    assert_eq!((f.low, f.high), (49152, 65535));
    assert!(
        f.source
            .contains("would mean 49152-50151 but is not in force"),
        "{}",
        f.source
    );
    // A value from an ending-port version left behind by an upgrade.
    let f = in_force(Some((10000, 19999)), Some(65534)).unwrap();
    assert_eq!((f.low, f.high), (10000, 19999));
    assert!(
        f.source.contains("not valid on Vista and later"),
        "{}",
        f.source
    );
}

#[test]
fn without_netsh_maxuserport_is_the_ending_port() {
    let f = in_force(None, Some(65534)).unwrap();
    assert_eq!((f.low, f.high), (1025, 65534));
    assert!(
        f.source.starts_with("MaxUserPort 65534 in HKLM\\SYSTEM"),
        "{}",
        f.source
    );
    let f = in_force(None, None).unwrap();
    assert_eq!((f.low, f.high), (1025, 5000));
    assert!(f.source.contains("KB951748"), "{}", f.source);
    let e = in_force(None, Some(100)).unwrap_err().to_string();
    assert!(e.contains("--range LO-HI") && !e.contains('\n'), "{e}");
}

#[test]
fn reg_query_text_to_range_in_force() {
    // The path the Windows source takes, on literal text.
    let v = parse_reg_query_dword(REG_MAXUSERPORT, "MaxUserPort").unwrap();
    let f = in_force(None, v).unwrap();
    assert_eq!((f.low, f.high), (1025, 65534));
}

// --- the Windows source, with literal command output ------------------------------

const NETSH_DYNAMIC: &str = "\r\nProtocol tcp Dynamic Port Range\r\n\
---------------------------------\r\n\
Start Port      : 49152\r\n\
Number of Ports : 1000\r\n\r\n";

const NETSH_EXCLUDED: &str = "\r\nProtocol tcp Port Exclusion Ranges\r\n\r\n\
Start Port    End Port\r\n\
----------    --------\r\n\
      5357        5357\r\n\
     50000       50059     *\r\n\r\n\
* - Administered port exclusions.\r\n\r\n";

const REG_RESERVED: &str = "\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\r\n    ReservedPorts    REG_MULTI_SZ    1433-1434\\060001-60001\r\n\r\n";

/// Answers each command with the text of the first entry whose program and first
/// differing argument match; anything else fails like a missing value or command.
fn host(
    answers: &'static [(&'static str, &'static str, &'static str)],
) -> impl Fn(&str, &[&str]) -> Result<String, RangeError> {
    move |program, args| {
        let joined = args.join(" ");
        answers
            .iter()
            .find(|(p, needle, _)| *p == program && joined.contains(needle))
            .map(|(_, _, text)| text.to_string())
            .ok_or_else(|| RangeError::Command {
                command: format!("{program} {joined}"),
                detail: "exit status: 1".to_string(),
            })
    }
}

#[test]
fn vista_host_netsh_in_force_next_to_maxuserport() {
    let run = host(&[
        ("reg", "MaxUserPort", REG_MAXUSERPORT),
        ("netsh", "dynamicport", NETSH_DYNAMIC),
        ("netsh", "excludedportrange", NETSH_EXCLUDED),
    ]);
    let r = detect_with(&run).unwrap();
    assert_eq!((r.low, r.high), (49152, 50151));
    assert_eq!(r.reserved, vec![(5357, 5357), (50000, 50059)]);
    // 0xfffe is no number of ports: netsh's answer holds, and the source says so.
    assert!(
        r.source
            .starts_with("netsh int ipv4 show dynamicport tcp, in force"),
        "{}",
        r.source
    );
    assert!(
        r.source.contains("MaxUserPort 65534 is set but not valid"),
        "{}",
        r.source
    );

    let run = host(&[("netsh", "dynamicport", NETSH_DYNAMIC)]);
    let r = detect_with(&run).unwrap();
    assert_eq!(
        r.source,
        "netsh int ipv4 show dynamicport tcp (MaxUserPort not defined) (excluded port ranges unavailable)"
    );
}

#[test]
fn xp_host_without_netsh_dynamicport_reads_maxuserport_and_reservedports() {
    let run = host(&[
        ("reg", "MaxUserPort", REG_MAXUSERPORT),
        ("reg", "ReservedPorts", REG_RESERVED),
        (
            "netsh",
            "dynamicport",
            "The following command was not found: int ipv4 show dynamicport tcp.\r\n",
        ),
    ]);
    let r = detect_with(&run).unwrap();
    assert_eq!((r.low, r.high), (1025, 65534));
    assert_eq!(r.reserved, vec![(1433, 1434), (60001, 60001)]);
    assert!(r.source.contains("ending port"), "{}", r.source);
    // netsh failing outright, nothing in the registry: the default row, said so.
    let r = detect_with(&host(&[])).unwrap();
    assert_eq!((r.low, r.high), (1025, 5000));
    assert!(r.source.contains("MaxUserPort not defined"), "{}", r.source);
}

#[test]
fn a_malformed_registry_value_is_one_line_not_a_guess() {
    let run = host(&[(
        "reg",
        "MaxUserPort",
        "HKEY_LOCAL_MACHINE\\X\r\n    MaxUserPort    REG_SZ    60000\r\n",
    )]);
    let e = detect_with(&run).unwrap_err().to_string();
    assert!(e.contains("expected REG_DWORD") && !e.contains('\n'), "{e}");
    let run = host(&[(
        "reg",
        "MaxUserPort",
        "HKEY_LOCAL_MACHINE\\X\r\n    MaxUserPort    REG_DWORD    0x64\r\n",
    )]);
    // 100 on a host without netsh dynamicport: not a valid ending port.
    let e = detect_with(&run).unwrap_err().to_string();
    assert!(e.contains("5000-65535") && e.contains("--range"), "{e}");
    let bad = "HKEY_LOCAL_MACHINE\\X\r\n    ReservedPorts    REG_MULTI_SZ    1433-1434\\0abc\r\n";
    assert!(parse_reg_query_reserved(bad).is_err());
    assert_eq!(
        parse_reg_query_reserved("HKEY_LOCAL_MACHINE\\X\r\n").unwrap(),
        vec![]
    );
    assert!(parse_reg_query_reserved("garbage").is_err());
}

proptest::proptest! {
    #[test]
    fn the_table_and_the_reg_parsers_never_panic(value: u32, text in ".{0,200}", start: u32, num: u32) {
        for v in WindowsVersion::ALL {
            if let Ok(d) = derive(v, Some(value), None) {
                proptest::prop_assert!(d.low <= d.high);
                proptest::prop_assert!((v.row().valid.0..=v.row().valid.1).contains(&value));
            }
        }
        if let Ok((lo, hi)) = dynamic_range(start, num) {
            proptest::prop_assert!(lo >= 1025 && u32::from(hi) - u32::from(lo) + 1 == num);
        }
        let reg = format!("HKEY_LOCAL_MACHINE\\X\r\n    MaxUserPort    REG_DWORD    {text}\r\n");
        let _ = parse_reg_query_dword(&reg, "MaxUserPort");
        let _ = parse_reg_query_dword(&text, "MaxUserPort");
        let reg = format!("HKEY_LOCAL_MACHINE\\X\r\n    ReservedPorts    REG_MULTI_SZ    {text}\r\n");
        let _ = parse_reg_query_reserved(&reg);
    }
}
