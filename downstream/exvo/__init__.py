"""ICML ExVo 2022 tasks on HUME-VB."""
