pub mod reload;
