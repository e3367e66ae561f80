pub struct Browser;
