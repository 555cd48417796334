//! One test case per fixture in testdata/fixtures: each checks the capture against the facts its
//! generator wrote beside it (`NAME.expect.json`), so a failure names its fixture and the cases
//! run in parallel. `every_fixture_has_a_case` fails when a fixture is added without a line here.

use super::fixtures::expect;

/// Declares a test per fixture, and the list of them.
macro_rules! fixture_cases {
    ($($test:ident => $file:literal,)+) => {
        $(
            #[test]
            fn $test() {
                expect($file);
            }
        )+

        /// Every fixture with a case, in file-name order.
        pub const CASES: &[&str] = &[$($file),+];
    };
}

fixture_cases! {
    corrupt_record_length_pcap => "corrupt_record_length.pcap",
    cut_mid_record_pcap => "cut_mid_record.pcap",
    cut_mid_record_header_pcap => "cut_mid_record_header.pcap",
    demo_vxlan_after_pcap => "demo_vxlan_after.pcap",
    demo_vxlan_before_pcap => "demo_vxlan_before.pcap",
    demo_vxlan_gro_regression_pcap => "demo_vxlan_gro_regression.pcap",
    empty_pcap => "empty.pcap",
    empty_section_pcapng => "empty_section.pcapng",
    geneve_6081_pcap => "geneve_6081.pcap",
    gzip_garbage_pcap_gz => "gzip_garbage.pcap.gz",
    ipv4_df_clear_no_fragments_pcap => "ipv4_df_clear_no_fragments.pcap",
    ipv4_fragments_pcap => "ipv4_fragments.pcap",
    ipv6_ext_headers_pcap => "ipv6_ext_headers.pcap",
    ipv6_fragment_pcap => "ipv6_fragment.pcap",
    link_ipv4_228_pcap => "link_ipv4_228.pcap",
    link_ipv6_229_pcap => "link_ipv6_229.pcap",
    link_loop_108_pcap => "link_loop_108.pcap",
    link_null_be_0_pcap => "link_null_be_0.pcap",
    link_null_ipv6_0_pcap => "link_null_ipv6_0.pcap",
    link_null_le_0_pcap => "link_null_le_0.pcap",
    link_raw_101_pcap => "link_raw_101.pcap",
    link_raw_12_pcap => "link_raw_12.pcap",
    link_raw_14_pcap => "link_raw_14.pcap",
    link_sll2_276_pcap => "link_sll2_276.pcap",
    link_sll2_ipv6_276_pcap => "link_sll2_ipv6_276.pcap",
    link_sll_113_pcap => "link_sll_113.pcap",
    link_unsupported_147_pcap => "link_unsupported_147.pcap",
    multi_section_be_pcapng => "multi_section_be.pcapng",
    multi_section_le_pcapng => "multi_section_le.pcapng",
    not_a_capture_txt => "not_a_capture.txt",
    offload_gro_receive_pcap => "offload_gro_receive.pcap",
    offload_gro_receive_midstream_pcap => "offload_gro_receive_midstream.pcap",
    offload_jumbo_mtu_pcap => "offload_jumbo_mtu.pcap",
    offload_no_coalescing_pcap => "offload_no_coalescing.pcap",
    offload_no_coalescing_routed_pcap => "offload_no_coalescing_routed.pcap",
    offload_no_coalescing_small_pcap => "offload_no_coalescing_small.pcap",
    offload_no_coalescing_windows_pcap => "offload_no_coalescing_windows.pcap",
    offload_tso_send_pcap => "offload_tso_send.pcap",
    pcap_bad_usec_pcap => "pcap_bad_usec.pcap",
    pcap_header_cut_pcap => "pcap_header_cut.pcap",
    pcapng_bad_version_pcapng => "pcapng_bad_version.pcapng",
    pcapng_block_len_8_pcapng => "pcapng_block_len_8.pcapng",
    pcapng_extreme_times_pcapng => "pcapng_extreme_times.pcapng",
    pcapng_merged_taps_jitter_pcapng => "pcapng_merged_taps_jitter.pcapng",
    pcapng_out_of_order_pcapng => "pcapng_out_of_order.pcapng",
    pcapng_unknown_interface_pcapng => "pcapng_unknown_interface.pcapng",
    qinq_pcap => "qinq.pcap",
    quic_mtu_sized_pcap => "quic_mtu_sized.pcap",
    quic_stall_pcap => "quic_stall.pcap",
    quic_udp_gso_sender_pcap => "quic_udp_gso_sender.pcap",
    snaplen_96_pcap => "snaplen_96.pcap",
    tcp_be_nsec_pcap => "tcp_be_nsec.pcap",
    tcp_be_usec_pcap => "tcp_be_usec.pcap",
    tcp_capture_gap_pcap => "tcp_capture_gap.pcap",
    tcp_capture_reordered_pcap => "tcp_capture_reordered.pcap",
    tcp_clean_transfer_pcap => "tcp_clean_transfer.pcap",
    tcp_clean_transfer_new_port_pcap => "tcp_clean_transfer_new_port.pcap",
    tcp_concurrent_inflight_pcap => "tcp_concurrent_inflight.pcap",
    tcp_concurrent_inflight_within_budget_pcap => "tcp_concurrent_inflight_within_budget.pcap",
    tcp_fast_resend_not_duplicate_pcap => "tcp_fast_resend_not_duplicate.pcap",
    tcp_fixed_ip_id_df1_pcap => "tcp_fixed_ip_id_df1.pcap",
    tcp_fixed_ip_id_df1_kernel_4_4_pcap => "tcp_fixed_ip_id_df1_kernel_4_4.pcap",
    tcp_gzip_pcap_gz => "tcp_gzip.pcap.gz",
    tcp_gzip_no_suffix_cap => "tcp_gzip_no_suffix.cap",
    tcp_keepalive_pcap => "tcp_keepalive.pcap",
    tcp_le_nsec_pcap => "tcp_le_nsec.pcap",
    tcp_le_usec_pcap => "tcp_le_usec.pcap",
    tcp_loss_before_capture_pcap => "tcp_loss_before_capture.pcap",
    tcp_no_handshake_pcap => "tcp_no_handshake.pcap",
    tcp_out_of_order_pcap => "tcp_out_of_order.pcap",
    tcp_retransmission_below_threshold_pcap => "tcp_retransmission_below_threshold.pcap",
    tcp_rto_slow_start_pcap => "tcp_rto_slow_start.pcap",
    tcp_sack_fast_retransmission_pcap => "tcp_sack_fast_retransmission.pcap",
    tcp_seq_wrap_pcap => "tcp_seq_wrap.pcap",
    tcp_small_window_pcap => "tcp_small_window.pcap",
    tcp_span_duplicates_pcap => "tcp_span_duplicates.pcap",
    tcp_starved_connection_pcap => "tcp_starved_connection.pcap",
    tcp_super_segments_pcap => "tcp_super_segments.pcap",
    tcp_timestamp_every_segment_pcap => "tcp_timestamp_every_segment.pcap",
    tcp_timestamp_per_ms_pcap => "tcp_timestamp_per_ms.pcap",
    tcp_tso_burst_retransmission_pcap => "tcp_tso_burst_retransmission.pcap",
    tcp_uneven_shares_pcap => "tcp_uneven_shares.pcap",
    tcp_v2_2_swapped_lengths_pcap => "tcp_v2_2_swapped_lengths.pcap",
    tcp_zero_window_pcap => "tcp_zero_window.pcap",
    tso_total_len_zero_pcap => "tso_total_len_zero.pcap",
    udp_heartbeat_pcap => "udp_heartbeat.pcap",
    udp_idle_gaps_pcap => "udp_idle_gaps.pcap",
    vxlan_4789_pcap => "vxlan_4789.pcap",
    vxlan_8472_pcap => "vxlan_8472.pcap",
    vxlan_custom_port_pcap => "vxlan_custom_port.pcap",
    vxlan_custom_port_not_decoded_pcap => "vxlan_custom_port_not_decoded.pcap",
    vxlan_header_truncated_pcap => "vxlan_header_truncated.pcap",
    vxlan_outer_ip_id_df0_pcap => "vxlan_outer_ip_id_df0.pcap",
    vxlan_outer_ip_id_incrementing_pcap => "vxlan_outer_ip_id_incrementing.pcap",
    vxlan_outer_ip_id_shared_counter_pcap => "vxlan_outer_ip_id_shared_counter.pcap",
    vxlan_outer_port_per_packet_pcap => "vxlan_outer_port_per_packet.pcap",
}
